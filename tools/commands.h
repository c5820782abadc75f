/*
 * commands.h -- the subcommands of the `gomap` tool.
 *
 * Each subcommand is one function `int cmd_<name>(int argc, char **argv)`
 * (argv[0] is the subcommand's name; returns the exit status) in its own file
 * tools/cmd_<name>.c, which tools/CMakeLists.txt picks up by its name.  To
 * add one (say `gomap dump`): write tools/cmd_dump.c, declare cmd_dump here,
 * and add a row to the command table in tools/gomap.c.
 */
#ifndef GOMAP_TOOL_COMMANDS_H
#define GOMAP_TOOL_COMMANDS_H

int cmd_bench(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

#endif
