// nkisim::collectives bookkeeping (issue 12): written state and sentinel fills of destinations.
#include <catch2/catch.hpp>

#include "helpers.hpp"
#include "nkisim/collectives.hpp"

using namespace nkisim;

TEST_CASE("a collective's on-chip destination becomes written, whole or in part") {
  Interpreter core(Target::from_env());
  Tensor whole = core.allocate(Buffer::sbuf, {8, 16}, DType::float32, "whole");
  CHECK(whole.allocation().wstate == Allocation::WriteState::none);
  collectives::mark_written(whole);
  CHECK(whole.allocation().wstate == Allocation::WriteState::all);

  Tensor part = core.allocate(Buffer::sbuf, {8, 16}, DType::float32, "part");
  Tensor rows = part.index({IndexItem{IndexItem::slice, 0, 4, 1}, IndexItem{IndexItem::all}});
  collectives::mark_written(rows);
  CHECK(part.allocation().wstate == Allocation::WriteState::some);
}

TEST_CASE("a collective that overwrites its destination skips the sentinel fill") {
  Interpreter core(Target::from_env());
  Tensor dst = core.allocate(Buffer::sbuf, {8, 16}, DType::float32, "dst");
  Tensor src = core.allocate(Buffer::sbuf, {8, 16}, DType::float32, "src");
  REQUIRE(dst.allocation().unfilled);
  collectives::claim_for_overwrite(dst, {dst});  // in place: keep the fill
  CHECK(dst.allocation().unfilled);
  collectives::claim_for_overwrite(dst, {src});
  CHECK_FALSE(dst.allocation().unfilled);
}
