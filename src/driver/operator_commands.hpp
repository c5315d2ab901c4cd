#pragma once
// Operator commands to a running `twin run` (docs/lifecycle.md): `twin command RUN_DIR VERB`
// writes a JSON file into RUN_DIR/commands/; before each cycle rank 0 takes every file there,
// in name order, hands it to Runtime::command and renames it to `.done` (or `.refused` with
// why, for a file that is not a command). The runtime audits what the command did.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "twin/observation.hpp"

namespace twin::detail {

/// Parses one command file's text. @throws DataError saying what is wrong.
OperatorCommand parse_command(const std::string& text);

/// The JSON text of a command, as `twin command` writes it.
std::string command_text(const OperatorCommand& command);

/// Takes the commands waiting in `dir` (oldest name first) and marks their files taken.
std::vector<OperatorCommand> take_commands(const std::filesystem::path& dir);

/// Writes a command file into `dir` (created), atomically; returns its path.
std::filesystem::path post_command(const std::filesystem::path& dir, const OperatorCommand& command);

}  // namespace twin::detail
