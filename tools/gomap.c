/*
 * gomap.c -- the `gomap` command-line tool: a dispatcher over subcommands.
 *
 *   gomap bench [options]   time gomap (or, with --with-peers, everything)
 *   gomap trace [options]   a workload's trace events, for Perfetto
 *   gomap inspect [options] a picture of the map at a chosen moment (HTML)
 *   gomap version           print the library version and its hash
 *   gomap help [command]    this list, or a command's own help
 *
 * Subcommands live in tools/cmd_<name>.c; see commands.h to add one.
 */
#include "commands.h"
#include "gomap.h"

#include <stdio.h>
#include <string.h>

typedef struct tool_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} tool_command;

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

/* The command table: one row per subcommand, in the order help lists them. */
static const tool_command commands[] = {
    {"bench", "time gomap on a default workload (--with-peers: the full comparison)",
     cmd_bench},
    {"trace", "run a workload and write its trace events for Perfetto / chrome://tracing",
     cmd_trace},
    {"inspect", "run a workload, stop it (say halfway through a grow), draw the map as HTML",
     cmd_inspect},
    {"version", "print the library version and the hash in use", cmd_version},
    {"help", "list the commands, or show one command's help", cmd_help},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const tool_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gomap <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`gomap help <command>` or `gomap <command> --help` for details.\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("gomap %d.%d.%d (hash: %s)\n", GOMAP_VERSION_MAJOR, GOMAP_VERSION_MINOR,
           GOMAP_VERSION_PATCH, gomap_hash_name());
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    const tool_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "gomap: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (c->run == cmd_help || c->run == cmd_version) {
        printf("gomap %s: %s\n", c->name, c->summary);
        return 0;
    }
    char name[64];
    char help[] = "--help";
    snprintf(name, sizeof name, "%s", c->name);
    char *args[] = {name, help, NULL};
    return c->run(2, args);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    const tool_command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "gomap: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
