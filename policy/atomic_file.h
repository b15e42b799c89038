// Atomic file replacement: readers see the old file or the new one, never a
// partial write, even if the process dies mid-write.
#pragma once

#include <filesystem>
#include <string_view>

namespace ponder {

// Writes `contents` to a temporary file beside `path`, flushes it to disk and
// renames it over `path`. Creates missing parent folders. Throws ponder::Error
// naming the path on failure (the temporary file is removed).
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace ponder
