#pragma once
/// <regex>, with GCC 12's false -Wmaybe-uninitialized inside libstdc++'s regex compiler silenced (it fires in the
/// sanitizer builds, -O1, where warnings are errors). Include this instead of <regex>, before anything that could
/// pull <regex> in: the pragma covers the header's own code only, never ours.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#else
#include <regex>
#endif
