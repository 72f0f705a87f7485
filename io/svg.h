// SVG figures written by the engine itself (no Python), meant to be read as they are in a notebook or a report:
// line charts (training curves, with a legend), scatter plots (predicted vs observed effects, the y = x line and
// Pearson r), heatmaps (the GRN block, with a colour bar over the values' true range) and bar charts (per-
// perturbation metrics, sorted). Axes carry "nice" tick values (1, 2, 2.5 or 5 times a power of ten, formatted with
// just the decimals the step needs; integers on integer axes). Each function returns the SVG text; write it with
// io::write_file_atomic.
#pragma once
#include <string>
#include <vector>

namespace gpo::io {

struct Series {
    std::string name;
    std::vector<double> x, y;
};

// Tick values covering [lo, hi]: `lo`/`hi` widened to multiples of `step`, step = 1, 2, 2.5 or 5 x 10^k chosen
// so that there are about `target` intervals (at least 1 when `integer`). labels are the values formatted with the
// decimals `step` needs ("0.25", "-0.5", "10"; never "-0").
struct Ticks {
    double lo = 0, hi = 1, step = 1;
    std::vector<double> values;
    std::vector<std::string> labels;
};
Ticks nice_ticks(double lo, double hi, int target = 5, bool integer = false);

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series);
// Points, the y = x line when `diagonal` (both axes then share one range) and "Pearson r = ..., n = ..." in the
// corner (over the finite pairs).
std::string svg_scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<double>& x, const std::vector<double>& y, bool diagonal = true);
// values (rows x cols) row-major. Colour: a diverging blue/red scale centred at 0 over [-max|v|, max|v|] when the
// values have both signs; otherwise a sequential scale over the values' own [min, max]. A colour bar labelled
// `value_label` shows that range with nice ticks. Row/column labels are thinned to stay legible on large matrices.
std::string svg_heatmap(const std::string& title, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const std::vector<double>& values,
                        const std::string& value_label = "value");
// One bar per label, sorted by value (largest first; missing values last, marked "n/a").
std::string svg_bar_chart(const std::string& title, const std::string& y_label, const std::vector<std::string>& labels,
                          const std::vector<double>& values);

}  // namespace gpo::io
