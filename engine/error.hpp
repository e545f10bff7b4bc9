#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace latf {

// Thrown for bad input: a message names the operand, the expected and the actual value.
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Thrown when a backend call fails (CUDA, cuBLAS, allocation).
class BackendError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw InvalidArgument(concat(parts...));
}

}  // namespace latf

// Checks a condition on user input; the message parts are only formatted on failure.
#define LATF_REQUIRE(cond, ...)                  \
  do {                                           \
    if (!(cond)) ::latf::fail(__VA_ARGS__);      \
  } while (0)
