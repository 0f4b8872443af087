// nkisim: the C++ API of the NKI CPU simulator (link nkisim::nkisim).
#pragma once

#include "nkisim/checked.hpp"
#include "nkisim/dtype.hpp"
#include "nkisim/errors.hpp"
#include "nkisim/interpreter.hpp"
#include "nkisim/launch.hpp"
#include "nkisim/memory.hpp"
#include "nkisim/observer.hpp"
#include "nkisim/op.hpp"
#include "nkisim/opgraph.hpp"
#include "nkisim/profile.hpp"
#include "nkisim/target.hpp"
#include "nkisim/tensor.hpp"
