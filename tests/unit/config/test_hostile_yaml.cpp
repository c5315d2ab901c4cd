// Hostile configuration files: every one must give a ConfigError, never a crash, a hang (the
// ctest timeout catches those) or silent acceptance. Includes the yaml-cpp 0.7 traps (aliases, duplicate keys, .nan) and a
// fuzz pass over mutations of a valid file.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "twin/config.hpp"
#include "twin/error.hpp"

namespace {

const std::string valid = R"(twin:
  name: plate
  cycles: 10
  control_period_s: 10.0
grid:
  cells: [32, 24]
  extent_m: [0.4, 0.3]
physics:
  diffusivity_m2_s: 4.0e-6
  boundaries:
    default: {type: robin, transfer_m_s: 2.0e-6, value: 293.15}
    x_low: {type: dirichlet, value: 330.0}
time: {integrator: ssprk3, cfl: 0.8}
)";

std::string error_of(const std::string& text) {
  try {
    twin::parse_config(text, "hostile.yaml");
  } catch (const twin::ConfigError& e) {
    return e.what();
  }
  return "(accepted)";
}

// Rejected with a message containing `needle` (never empty: a message always names the file).
void expect_rejected(const std::string& text, const std::string& needle) {
  ASSERT_FALSE(needle.empty()) << "a needle that every message contains checks nothing";
  const std::string message = error_of(text);
  ASSERT_NE(message, "(accepted)") << "input:\n" << text.substr(0, 200);
  EXPECT_NE(message.find(needle), std::string::npos) << "input:\n" << text << "\nmessage: " << message;
}

}  // namespace

TEST(HostileYaml, AliasesAndAnchorsAreRejected) {
  expect_rejected("&a [*a]", "anchors");
  expect_rejected("grid: &g {cells: [3, 3], extent_m: [1, 1]}\nother: *g\n", "anchors");
  expect_rejected("grid:\n  cells: *x\n", "anchor");  // an alias of nothing
  expect_rejected(valid + "base: &b {a: 1}\nderived:\n  <<: *b\n", "anchors");
}

TEST(HostileYaml, DuplicateKeysAreRejected) {
  expect_rejected(valid + "grid:\n  cells: [8, 8]\n  extent_m: [1, 1]\n", "duplicate key 'grid' (first given at line 5)");
  expect_rejected("grid: {cells: [8, 8], cells: [9, 9], extent_m: [1, 1]}\n", "duplicate key 'cells'");
}

TEST(HostileYaml, NonFiniteNumbersAreRejected) {
  for (const char* v : {".nan", ".NaN", ".inf", "-.inf", "+.Inf", "nan", "inf", "-infinity"}) {
    expect_rejected(std::string("grid: {cells: [8, 8], extent_m: [1, ") + v + "]}\n", "non-finite");
  }
  expect_rejected("grid: {cells: [8, 8], extent_m: [1, 1e999]}\n", "out of the range of a double");
  expect_rejected("grid: {cells: [8, 8], extent_m: [1, 0x10]}\n", "expected a number");
  // Finite but so large that the filter's squares overflow: the run ended in NaN and an exit
  // that named no key. Refused at its key.
  std::string huge = valid;
  huge.replace(huge.find("diffusivity_m2_s: 4.0e-6"), 24, "diffusivity_m2_s: 4.0e-6\n  initial_value: 1e300");
  expect_rejected(huge, "physics.initial_value");
  expect_rejected(huge, "larger than 1e100");
  expect_rejected(valid + "sensors:\n  - {name: S, position_m: [0.1, 0.1], noise_std: -2e150}\n", "larger than 1e100");
  EXPECT_EQ(error_of(valid + "sensors:\n  - {name: S, position_m: [0.1, 0.1], noise_std: 1e99}\n"), "(accepted)");
}

TEST(HostileYaml, RootMustBeAMap) {
  expect_rejected("", "empty");
  expect_rejected("# only a comment\n", "empty");
  expect_rejected("- grid\n- twin\n", "top level must be a map");
  expect_rejected("just a string", "top level must be a map");
  expect_rejected("42", "top level must be a map");
}

TEST(HostileYaml, OversizedAndBinaryInputIsRejected) {
  expect_rejected(valid + "# " + std::string(twin::max_config_bytes, 'x') + "\n", "larger than");
  expect_rejected(std::string("grid:\0\n", 7), "NUL");
}

TEST(HostileYaml, DeepNestingIsRejectedQuickly) {
  // Refused at the first line, whatever the parser names first, without a stack overflow.
  expect_rejected(std::string(100000, '['), "hostile.yaml:1:");
  expect_rejected("a: " + std::string(5000, '{'), "hostile.yaml:1:");
  std::string nested = "x:\n";
  for (int i = 1; i < 60; ++i) nested += std::string(2 * i, ' ') + "x:\n";
  expect_rejected(nested, "nesting deeper than");
}

TEST(HostileYaml, TagsAndComplexKeysAreRejected) {
  expect_rejected("twin: {cycles: !!int 5}\n", "tags");
  expect_rejected("? [a, b]\n: 1\n", "keys must be plain");
  expect_rejected("{[1]: 2}\n", "keys must be plain");
}

TEST(HostileYaml, SyntaxErrorsCarryAPosition) {
  const std::string message = error_of("grid:\n  cells: [16, 8\n  extent_m: [1, 1]\n");
  EXPECT_NE(message.find("YAML syntax error"), std::string::npos) << message;
  EXPECT_EQ(message.rfind("hostile.yaml:", 0), 0u) << message;
  expect_rejected("grid:\n\tcells: [1, 2]\n", "hostile.yaml:");
  // yaml-cpp's own words for it do not mention the tab, which an editor does not show.
  expect_rejected("grid:\n  cells: [16, 8]\n\textent_m: [1, 1]\n", "indented with a tab");
  expect_rejected("grid:\n \t cells: [16, 8]\n", "indented with a tab");
  expect_rejected("twin: {name: x\n", "YAML syntax error");
}

// Every mutation of a valid file is either accepted as a whole or rejected with a ConfigError.
TEST(HostileYaml, FuzzedMutationsNeverEscapeAsOtherErrors) {
  std::mt19937 rng(20261121);
  const std::string alphabet = "[]{}:,&*!|>-?#'\"%@`\n\t .0123456789abcxyz";
  int rejected = 0, accepted = 0;
  // Accepted or ConfigError; any other exception fails the test.
  auto parse = [&](const std::string& text) {
    try {
      twin::parse_config(text, "fuzz.yaml");
      ++accepted;
    } catch (const twin::ConfigError&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "non-config error " << e.what() << " for:\n" << text;
    }
  };
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text = valid;
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % (text.size() + 1);
      switch (rng() % 4) {
        case 0: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        case 1: if (at < text.size()) text.erase(at, 1); break;
        case 2: if (at < text.size()) text[at] = alphabet[rng() % alphabet.size()]; break;
        case 3: text.resize(at); break;
      }
    }
    parse(text);
  }
  // Short random strings over YAML's punctuation: where yaml-cpp 0.7's LoadAll loops forever.
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text(1 + rng() % 24, ' ');
    for (char& ch : text) ch = alphabet[rng() % alphabet.size()];
    parse(text);
  }
  EXPECT_GT(rejected, 3000);  // most mutations break the file...
  EXPECT_GT(accepted, 0);     // ...but some harmless ones (inside comments, names) are valid
}
