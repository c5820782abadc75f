/* quickstart.c -- count words with gomap (the README's example). */
#include <gomap.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    gomap_type t = gomap_type_builtin(GOMAP_KEY_STR_COPY, 0, sizeof(int), _Alignof(int));
    gomap *m = gomap_new(&t, 0);
    if (!m) return 1;

    char text[] = "the quick brown fox jumps over the lazy dog the end";
    for (char *w = strtok(text, " "); w; w = strtok(NULL, " ")) {
        gomap_str key = {w, strlen(w)};
        int *count = gomap_assign(m, &key); /* m[key], zeroed when new */
        if (!count) return 1;               /* out of memory */
        ++*count;
    }

    gomap_str the = {"the", 3};
    printf("%zu distinct words; \"the\" appears %d times\n", gomap_len(m),
           *(int *)gomap_get(m, &the));

    gomap_iter it;
    gomap_iter_init(&it, m); /* random order, as in Go */
    while (gomap_iter_next(&it)) {
        const gomap_str *k = it.key;
        printf("  %.*s: %d\n", (int)k->len, k->ptr, *(int *)it.val);
    }
    gomap_free(m);
    return 0;
}
