/* commands.h: the `p4` subcommands.  main.c dispatches argv[1] to one of
 * these; each parses its own options, prints errors to stderr, and returns a
 * process exit status (0 ok, 1 runtime failure, 2 usage or input error). */
#ifndef P4_NODE_COMMANDS_H
#define P4_NODE_COMMANDS_H

int p4_cmd_data(int argc, char **argv);    /* p4 data --config F            */
int p4_cmd_train(int argc, char **argv);   /* p4 train --config F [--client K] [--json] */
int p4_cmd_dp(int argc, char **argv);      /* p4 dp epsilon|noise ...       */
int p4_cmd_budget(int argc, char **argv);  /* p4 budget --state DB          */
int p4_cmd_sim(int argc, char **argv);     /* p4 sim --config F ...         */
int p4_cmd_sweep(int argc, char **argv);   /* p4 sweep --config F ...       */
int p4_cmd_attest(int argc, char **argv);  /* p4 attest verify|fetch ...    */
int p4_cmd_audit(int argc, char **argv);   /* p4 audit --config F ...       */
int p4_cmd_leakage(int argc, char **argv); /* p4 leakage --config F ...     */
int p4_cmd_node(int argc, char **argv);    /* p4 node --config F ...        */
int p4_cmd_status(int argc, char **argv);  /* p4 status --state DIR         */
int p4_cmd_cluster(int argc, char **argv); /* p4 cluster --config F --nodes N */
int p4_cmd_serve(int argc, char **argv);   /* p4 serve --state DIR ...      */
int p4_cmd_query(int argc, char **argv);   /* p4 query --server EP ...      */

#endif
