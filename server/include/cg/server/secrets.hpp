#pragma once
/// Keys and tokens: generating them, comparing them without leaking timing, keeping development keys on disk.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace cg::server {

/// `bytes` bytes from the kernel's CSPRNG, base64url without padding (URL-safe, 4/3 as many characters).
std::string random_urlsafe(std::size_t bytes);

/// Compares in time that depends only on the lengths, never on where the first difference is.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

struct development_keys {
  std::string api_key;
  std::string ingest_key;
  std::filesystem::path file;
  bool created = false;  ///< true on the run that generated them
};

/// Reads `<data_dir>/dev-keys.env`, or creates it (mode 0600) with two fresh keys. Keys already set in the
/// configuration are kept as they are. Throws std::runtime_error when the file cannot be written.
development_keys load_or_create_development_keys(const std::filesystem::path& data_dir, std::string api_key,
                                                 std::string ingest_key);

}  // namespace cg::server
