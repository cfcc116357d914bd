// The C++ API of rsptools: ASAP pool elements and pool users (include this one header).
#pragma once

#include "rsp/asap/clock.hpp"
#include "rsp/asap/config.hpp"
#include "rsp/asap/context.hpp"
#include "rsp/asap/error.hpp"
#include "rsp/asap/pool_element.hpp"
#include "rsp/asap/pool_user.hpp"
#include "rsp/asap/types.hpp"
