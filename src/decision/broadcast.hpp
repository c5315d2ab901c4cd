#pragma once
// The advise stage's collectives: rank 0 decides (decision/decider.hpp), one broadcast carries
// the whole result to every rank. Each packs its value into one byte string (doubles bit for
// bit, strings length-prefixed) and sends it with one broadcast.

#include <mpi.h>

#include "decision/decider.hpp"
#include "twin/observation.hpp"

namespace twin::detail {

/// Rank 0's decision on every rank. The report's proposal is padded with NaN to `controls`
/// entries (a cycle without a proposal reports NaN for each control). Collective.
void broadcast(Decision& decision, std::size_t controls, MPI_Comm comm);
/// Rank 0's anomaly report on every rank. Collective.
void broadcast(AnomalyReport& report, MPI_Comm comm);

}  // namespace twin::detail
