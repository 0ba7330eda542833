#pragma once
// RFC 9112 message framing: whether a request's length can be read only one way. Kept apart from the session so the
// fuzz target (tests/fuzz/http_request_fuzz.cpp) checks exactly the rule the server applies.

#include "http/http.hpp"

#include <string>

namespace cg::server {

/// Why a request's framing cannot be trusted, empty when it can (see the .cpp for the rules and their sections).
std::string framing_problem(const request& req);

}  // namespace cg::server
