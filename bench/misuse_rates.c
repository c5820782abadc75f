/*
 * misuse_rates.c -- how often gomap's concurrent-misuse detection fires
 * when two real threads misuse one map: write vs write, iterate vs write,
 * read vs write (the scenarios of tests/misuse_race.h).  Every run is a
 * forked child; a table counts, per scenario and operation count, the runs
 * that ended with the scenario's message (detected), that died without a
 * message (crashed: a signal, or the hang guard), and that finished without
 * a message (silent), split by whether the child then found its results
 * right or wrong.
 *
 *   misuse_rates [--runs R] [--ops N[,N...]] [--scenario write|iter|read]
 *                [--default-handler] [--verbose]
 *
 * R runs of each scenario (or of the one named) for each N (operations a
 * thread; default 100 runs at 100000 and 10000).  --default-handler leaves the library's
 * handler in place (message on stderr, then abort) instead of one that
 * exits; --verbose prints what the first crash of each batch said.
 */
#include "gomap.h"
#include "misuse_race.h"

static void usage(void) {
    fprintf(stderr, "usage: misuse_rates [--runs R] [--ops N[,N...]] [--scenario write|iter|read]\n"
                    "                    [--default-handler] [--verbose]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int runs = 100;
    long ops[16] = {100000, 10000};
    int nops = 2;
    enum mr_handler handler = MR_HANDLER_EXIT;
    int verbose = 0;
    int only = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atoi(argv[++i]);
            if (runs <= 0) usage();
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            char *p = argv[++i];
            nops = 0;
            while (*p && nops < 16) {
                char *end;
                long n = strtol(p, &end, 10);
                if (end == p || n <= 0) usage();
                ops[nops++] = n;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') usage();
            }
            if (nops == 0) usage();
        } else if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc) {
            const char *names[MR_NSCENARIOS] = {"write", "iter", "read"};
            i++;
            for (int sc = 0; sc < MR_NSCENARIOS; sc++)
                if (strcmp(argv[i], names[sc]) == 0) only = sc;
            if (only < 0) usage();
        } else if (strcmp(argv[i], "--default-handler") == 0) {
            handler = MR_HANDLER_DEFAULT;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else {
            usage();
        }
    }

    printf("| scenario | ops per run | runs | detected | crashed without message | silent | silent, wrong results |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (int n = 0; n < nops; n++) {
        for (int sc = 0; sc < MR_NSCENARIOS; sc++) {
            if (only >= 0 && sc != only) continue;
            mr_result r;
            mr_run(&r, (enum mr_scenario)sc, ops[n], runs, handler);
            char kinds[256];
            mr_crash_kinds(&r, kinds, sizeof kinds);
            printf("| %s | %ld | %d | %d | %d%s%s%s | %d | %d |\n", mr_scenario_names[sc], ops[n], r.runs,
                   r.detected, r.crashed, r.crashed ? " (" : "", kinds, r.crashed ? ")" : "",
                   r.silent + r.wrong, r.wrong);
            if (r.other_message || r.setup_failed)
                printf("|   (%d ended with another scenario's message, %d could not start) |||||||\n",
                       r.other_message, r.setup_failed);
            fflush(stdout);
            if (verbose && r.crashed)
                fprintf(stderr, "%s, %ld ops: the first crash said:\n%s\n", mr_scenario_names[sc], ops[n],
                        r.first_crash);
        }
    }
    return 0;
}
