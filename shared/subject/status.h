// Error values for the subject library: the shared Status and Result of shared/base.
#pragma once

#include "base/status.h"

namespace meridian::subject {

using Status = base::Status;
template <typename T>
using Result = base::Result<T>;

}  // namespace meridian::subject
