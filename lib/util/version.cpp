#include "rsp/version.hpp"
namespace rsp {
std::string_view version() noexcept { return RSP_VERSION; }
}  // namespace rsp
