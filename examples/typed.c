/* typed.c -- the quick start's word count with typed maps (gomap_typed.h). */
#include <gomap_typed.h>

#include <stdio.h>
#include <string.h>

/* map[string]int, the map owning copies of the words; map[uint32]int. */
GOMAP_DECLARE(word_counts, gomap_str, int, str_copy);
GOMAP_DECLARE(histogram, uint32_t, int, u32);

int main(void) {
    word_counts words;
    if (word_counts_new(&words) != GOMAP_OK) return 1;

    char text[] = "the quick brown fox jumps over the lazy dog the end";
    for (char *w = strtok(text, " "); w; w = strtok(NULL, " ")) {
        gomap_str key = {w, strlen(w)};
        int *count = word_counts_assign(&words, key); /* m[key], zeroed when new */
        if (!count) return 1;                         /* out of memory */
        ++*count;
    }

    gomap_str the = {"the", 3};
    printf("%zu distinct words; \"the\" appears %d times\n", word_counts_len(&words),
           word_counts_get_or(&words, the, 0));

    /* how many words have each length: keys and values typed, no casts */
    histogram lengths;
    if (histogram_new(&lengths) != GOMAP_OK) return 1;
    word_counts_iter it;
    word_counts_iter_init(&it, &words); /* random order, as in Go */
    while (word_counts_iter_next(&it)) {
        printf("  %.*s: %d\n", (int)it.key->len, it.key->ptr, *it.val);
        int *n = histogram_assign(&lengths, (uint32_t)it.key->len);
        if (!n) return 1;
        *n += *it.val;
    }
    for (uint32_t len = 1; len <= 5; len++) /* get_or: 0 for lengths absent */
        printf("words of length %u: %d\n", (unsigned)len,
               histogram_get_or(&lengths, len, 0));

    histogram_free(&lengths);
    word_counts_free(&words);
    return 0;
}
