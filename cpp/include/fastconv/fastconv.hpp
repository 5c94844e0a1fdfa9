#pragma once
// The public C++ API: describe a convolution, make a plan, run it.
#include "fastconv/cpu.hpp"
#include "fastconv/descriptor.hpp"
#include "fastconv/errors.hpp"
#include "fastconv/plan.hpp"
#include "fastconv/version.hpp"
