// SVG figures written by the engine itself (no Python): line charts (training curves), scatter plots (predicted vs
// observed effects, with the y = x line), heatmaps (the GRN block) and bar charts (per-perturbation metrics).
// Each function returns the SVG text; write it with io::write_file_atomic.
#pragma once
#include <string>
#include <vector>

namespace gpo::io {

struct Series {
    std::string name;
    std::vector<double> x, y;
};

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series);
std::string svg_scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<double>& x, const std::vector<double>& y, bool diagonal = true);
// values (rows x cols) row-major; a diverging palette centred at 0 when the values have both signs.
std::string svg_heatmap(const std::string& title, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const std::vector<double>& values);
std::string svg_bar_chart(const std::string& title, const std::string& y_label, const std::vector<std::string>& labels,
                          const std::vector<double>& values);

}  // namespace gpo::io
