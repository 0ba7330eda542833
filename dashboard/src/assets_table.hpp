#pragma once
// The table the generated dashboard_assets_data.cpp defines (dashboard/embed.cmake writes it).

#include "cg/dashboard/assets.hpp"

namespace cg::dashboard::detail {

extern const asset asset_table[];
extern const std::size_t asset_count;

}  // namespace cg::dashboard::detail
