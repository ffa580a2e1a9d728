/* revops-stream: dispatches to one subcommand (generate is the default). */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    cli_signals_init();
    if (argc > 1 && argv[1][0] != '-') {
        const char *sub = argv[1];
        if (strcmp(sub, "generate") == 0)
            return cmd_generate(argc - 1, argv + 1);
        if (strcmp(sub, "plan") == 0)
            return cmd_plan(argc - 1, argv + 1);
        if (strcmp(sub, "merge") == 0)
            return cmd_merge(argc - 1, argv + 1);
        if (strcmp(sub, "validate") == 0)
            return cmd_validate(argc - 1, argv + 1);
        if (strcmp(sub, "split") == 0)
            return cmd_split(argc - 1, argv + 1);
        cli_error("unknown command \"%s\" (commands: generate, plan, merge, validate, split; see --help)", sub);
        return 2;
    }
    argv[0] = "generate";
    return cmd_generate(argc, argv);
}
