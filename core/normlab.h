// The umbrella header: everything a user program needs from normlab's core.
#pragma once
#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/gradcheck.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/threading.h"
