// Progress reporting for long loops: a one-line bar redrawn in place on a terminal (epoch, step, loss, ETA), or
// plain lines every few seconds when stderr is not a terminal (logs, CI).
#pragma once
#include <chrono>
#include <string>

namespace gpo::io {

class Progress {
  public:
    explicit Progress(std::string title);
    // done/total units of the current phase, plus a short status ("loss 123.4").
    void update(int64_t done, int64_t total, const std::string& status);
    void finish_line(const std::string& text);  // ends the bar with a permanent line
    static std::string format_seconds(double s);

  private:
    std::string title_;
    bool tty_;
    std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace gpo::io
