#pragma once
#include <stdexcept>
#include <string>

namespace fastconv {

// Thrown for a bad descriptor or argument; the message names the argument and its value.
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace fastconv
