#pragma once
// Whole-file replacement that a crash cannot tear: the bytes go to a temporary file in the target's
// directory, are flushed to disk, and the temporary is renamed over the target. Readers see either
// the old file or the complete new one; on any failure the temporary is removed and the old file
// is left untouched.
#include <cstddef>
#include <string>

namespace latf::data {

// Throws InvalidArgument naming `path` and the failing step (with the system's reason).
void write_file_atomically(const std::string& path, const void* bytes, std::size_t size);

}  // namespace latf::data
