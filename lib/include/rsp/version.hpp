#pragma once
#include <string_view>
namespace rsp {
// The library's version, "MAJOR.MINOR.PATCH"; every tool's --version prints it.
std::string_view version() noexcept;
}  // namespace rsp
