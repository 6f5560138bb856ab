// Checking, before anything is created, that a command can listen where it was told to: a busy
// port found after a data directory was initialised leaves a half-made node behind.
#pragma once

#include <string>

#include "ewarn/base/status.h"

namespace ewarn::app {

// Ok when HOST:PORT (numeric host) can be bound now, or when port is 0 (any free port).
// FailedPrecondition naming `flag` and saying what to do when the port is taken;
// InvalidArgument when the address is not HOST:PORT. Hostnames other than numeric addresses
// are left to the server that binds them.
Status CheckCanListen(const std::string& address, const std::string& flag);

}  // namespace ewarn::app
