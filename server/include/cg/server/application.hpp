#pragma once
/// The whole server: wires configuration, storage, the writer, pricing and HTTP together, runs until a signal.

namespace cg::server {

/// Runs `cost-guardian` with these arguments and environment; returns the process exit code.
/// 0 after a clean shutdown (SIGINT/SIGTERM: stop accepting, finish in-flight requests, commit the queue),
/// 1 for a start-up failure (configuration, database, port), 2 for bad command-line usage.
int run_server(int argc, const char* const* argv);

}  // namespace cg::server
