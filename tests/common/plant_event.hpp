#pragma once
// Test helper: a scheduled plant event (source.plant.events[]) in one line.

#include <string>

#include "twin/config.hpp"

namespace twin::test {

inline PlantEventConfig plant_event(EventKind kind, const std::string& target, double start, double end, double magnitude) {
  PlantEventConfig e;
  e.type = kind;
  e.target = target;
  e.start_s = start;
  e.end_s = end;
  e.magnitude = magnitude;
  return e;
}

}  // namespace twin::test
