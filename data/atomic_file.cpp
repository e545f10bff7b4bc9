#include "data/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.hpp"

namespace latf::data {

namespace {

std::string reason(int error) { return std::strerror(error); }

// Creates a fresh temporary beside `target`; O_EXCL makes a collision with another writer (other
// thread or process) a retry rather than a shared file.
int create_temporary(const std::filesystem::path& target, std::string* temp_path) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : ".";
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::string name = concat(".", target.filename().string(), ".tmp-", ::getpid(), "-", counter.fetch_add(1));
    *temp_path = (directory / name).string();
    const int fd = ::open(temp_path->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST)
      fail("cannot write '", target.string(), "': cannot create a temporary file in '", directory.string(), "' (",
           reason(errno), ")");
  }
  fail("cannot write '", target.string(), "': no free temporary file name");
}

// Best effort: makes the rename itself durable. Failure here does not undo a completed write.
void sync_directory(const std::filesystem::path& target) {
  const std::filesystem::path directory = target.has_parent_path() ? target.parent_path() : ".";
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const void* bytes, std::size_t size) {
  const std::filesystem::path target(path);
  LATF_REQUIRE(!path.empty() && target.has_filename(), "cannot write '", path, "': not a file name");
  std::string temp_path;
  int fd = create_temporary(target, &temp_path);
  auto abandon = [&](const char* step, int error) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp_path.c_str());
    fail("cannot write '", path, "': ", step, " failed (", reason(error), ")");
  };
  const auto* cursor = static_cast<const unsigned char*>(bytes);
  std::size_t left = size;
  while (left > 0) {
    const ssize_t written = ::write(fd, cursor, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      abandon("write", errno);
    }
    cursor += written;
    left -= static_cast<std::size_t>(written);
  }
  if (::fsync(fd) != 0) abandon("fsync", errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) abandon("close", errno);
  if (::rename(temp_path.c_str(), path.c_str()) != 0) abandon("rename", errno);
  sync_directory(target);
}

}  // namespace latf::data
