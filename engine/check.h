// Error handling for the whole engine: gpo::Error and the GPO_CHECK macro.
// Library code throws; only the command line turns an Error into a message and an exit code.
// The CUDA/cuBLAS/cuRAND/cuSPARSE checks live in kernels/cuda/common.cuh (they need CUDA headers).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gpo {

// what() is the message for users; where() the source location that raised it (shown under --verbose).
struct Error : std::runtime_error {
    explicit Error(const std::string& what, std::string where = "")
        : std::runtime_error(what), where_(std::move(where)) {}
    const std::string& where() const { return where_; }

  private:
    std::string where_;
};

[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
    std::ostringstream os;
    os << file << ":" << line;
    throw Error(msg, os.str());
}

}  // namespace gpo

// GPO_CHECK(cond, "op linear: x has " << n << " columns"): throws gpo::Error with the message when cond is false.
#define GPO_CHECK(cond, msg)                                        \
    do {                                                            \
        if (!(cond)) {                                              \
            std::ostringstream gpo_check_os_;                       \
            gpo_check_os_ << msg;                                   \
            ::gpo::throw_error(__FILE__, __LINE__, gpo_check_os_.str()); \
        }                                                           \
    } while (0)

#define GPO_FAIL(msg) GPO_CHECK(false, msg)
