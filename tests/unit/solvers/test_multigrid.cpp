// How the implicit solver's geometric multigrid coarsens a cell-centred grid split over ranks.
#include <gtest/gtest.h>

#include "solvers/detail/multigrid.hpp"

namespace {

using twin::solvers::detail::AxisOwnership;
using twin::solvers::detail::plan_cell_hierarchy;

}  // namespace

TEST(MultigridPlan, HalvesEveryAxisDownToTheCoarsestSize) {
  const auto h = plan_cell_hierarchy(2, {AxisOwnership{1024}, AxisOwnership{1024}, AxisOwnership{}}, 0);
  ASSERT_EQ(h.levels.size(), 8u);  // 1024^2 .. 8^2: the first with at most 64 cells
  EXPECT_EQ(h.levels.back()[0], AxisOwnership{8});
  EXPECT_EQ(h.levels.back()[1], AxisOwnership{8});
  EXPECT_EQ(h.levels.back()[2], AxisOwnership{1});  // 2D: the third axis is one cell
}

TEST(MultigridPlan, KeepsAnAxisThatNoLongerSplitsEvenlyOnEveryRank) {
  // x: 40 over two ranks (20, 20) halves twice to (5, 5); y: 29 on one rank never halves.
  const auto h = plan_cell_hierarchy(2, {AxisOwnership{20, 20}, AxisOwnership{29}, AxisOwnership{}}, 0);
  ASSERT_EQ(h.levels.size(), 3u);
  EXPECT_EQ(h.levels[1][0], (AxisOwnership{10, 10}));
  EXPECT_EQ(h.levels[2][0], (AxisOwnership{5, 5}));
  EXPECT_EQ(h.levels[2][1], AxisOwnership{29});
}

TEST(MultigridPlan, StopsWhereAnyRankWouldSplitACoarseCell) {
  // z is split 6 + 5 over two ranks: it never halves, even though 11 cells would coarsen to 6.
  const auto h = plan_cell_hierarchy(3, {AxisOwnership{16}, AxisOwnership{8, 8}, AxisOwnership{6, 5}}, 0);
  ASSERT_EQ(h.levels.size(), 4u);  // 16x16x11 -> 8x8x11 -> 4x4x11 -> 2x2x11 (44 cells)
  EXPECT_EQ(h.levels[3][0], AxisOwnership{2});
  EXPECT_EQ(h.levels[3][1], (AxisOwnership{1, 1}));
  EXPECT_EQ(h.levels[3][2], (AxisOwnership{6, 5}));
}

TEST(MultigridPlan, HonoursALevelLimit) {
  const auto h = plan_cell_hierarchy(2, {AxisOwnership{256}, AxisOwnership{256}, AxisOwnership{}}, 3);
  ASSERT_EQ(h.levels.size(), 3u);
  EXPECT_EQ(h.levels.back()[0], AxisOwnership{64});
}

TEST(MultigridPlan, OneLevelWhenNothingHalves) {
  const auto h = plan_cell_hierarchy(2, {AxisOwnership{33}, AxisOwnership{31}, AxisOwnership{}}, 0);
  EXPECT_EQ(h.levels.size(), 1u);
}
