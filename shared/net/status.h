// Error values for the net and http libraries: the shared Status and Result of shared/base.
#pragma once

#include "base/status.h"

namespace meridian::net {

using Status = base::Status;
template <typename T>
using Result = base::Result<T>;

}  // namespace meridian::net
