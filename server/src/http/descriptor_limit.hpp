#pragma once
// The process's file-descriptor limit (RLIMIT_NOFILE) and how many connections fit in it. Every connection is a
// descriptor; past the limit accept() fails with EMFILE while the connection waits in the backlog, so MAX_CONNECTIONS
// must stay below what the limit leaves. No Beast here.

#include <cstddef>
#include <cstdint>

namespace cg::server {

struct descriptor_budget {
  std::uint64_t limit = 0;   ///< the soft RLIMIT_NOFILE in force
  std::uint64_t hard = 0;    ///< the hard limit (what an unprivileged process may raise the soft one to)
  bool raised = false;       ///< the soft limit was below the hard one and has been raised
  std::size_t in_use = 0;    ///< descriptors open when measured (database files, sockets, the log)
};

/// Raises the soft RLIMIT_NOFILE to the hard limit (bounded by the kernel's fs.nr_open when the hard limit is
/// unlimited), then measures what is open. Many systems start services with a soft limit of 1,024 and a far higher
/// hard one, which would cap a gateway at a tenth of the default MAX_CONNECTIONS for no reason.
descriptor_budget raise_descriptor_limit();

/// Connections that fit: the limit, less what is open now, less a reserve for what opens later (database reconnects,
/// SQLite's temporary files, the accept of a connection that is then refused, outbound requests). The reserve is
/// 64, or a quarter of what is left when the limit is small. At least 1.
std::size_t connections_that_fit(const descriptor_budget& budget) noexcept;

}  // namespace cg::server
