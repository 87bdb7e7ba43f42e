/*
 * cli_materialize.h — `featd-cli materialize status --config FILE [--view V]
 * [--json]`: the materializer's state per feature view, read straight from
 * Redis (the progress hash, the current generation and the lease; see
 * server/materialize/mat_state.h), so it works with any number of featd replicas or
 * none running. The JSON form is documented in docs/materializer.md.
 * `featd-cli materialize purge-old-layout --config FILE [--view V]` deletes
 * the views' keys of the previous online layout (docs/online-layout.md,
 * "Upgrading").
 */
#ifndef FEATD_CLI_MATERIALIZE_H
#define FEATD_CLI_MATERIALIZE_H

/*
 * Entry point; argv[0] is "materialize". Exit status: 0 every view shown is
 * healthy (idle or running), 1 Redis or the config could not be read, or a
 * view's last run failed or its newest snapshot was rejected, 2 usage.
 * config_path, when not NULL, is the global --config (used when the
 * command has none of its own).
 */
int cli_materialize_main_cfg(int argc, char **argv, const char *config_path);

#endif
