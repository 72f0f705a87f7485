// SVG figures (see svg.h). Plain string building; coordinates in a fixed 640 x 420 canvas with margins.
#include "io/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace gpo::io {

namespace {

const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '&') o += "&amp;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v);
    return b;
}

struct Frame {  // maps data coordinates into the plot area
    double x0 = 70, x1 = 610, y0 = 360, y1 = 40;  // pixel box (y grows down)
    double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    double px(double x) const { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); }
    double py(double y) const { return y0 + (y - ymin) / (ymax - ymin) * (y1 - y0); }
};

void pad_range(double& lo, double& hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;
    double p = 0.05 * (hi - lo);
    lo -= p;
    hi += p;
}

std::string header(const std::string& title, int w = 640, int h = 420) {
    std::ostringstream os;
    os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w
       << " " << h << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
       << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
       << "<text x=\"" << w / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << esc(title) << "</text>\n";
    return os.str();
}

std::string axes(const Frame& f, const std::string& xl, const std::string& yl) {
    std::ostringstream os;
    os << "<rect x=\"" << f.x0 << "\" y=\"" << f.y1 << "\" width=\"" << f.x1 - f.x0 << "\" height=\"" << f.y0 - f.y1
       << "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (int i = 0; i <= 4; ++i) {
        double xv = f.xmin + (f.xmax - f.xmin) * i / 4, yv = f.ymin + (f.ymax - f.ymin) * i / 4;
        os << "<text x=\"" << f.px(xv) << "\" y=\"" << f.y0 + 16 << "\" text-anchor=\"middle\">" << num(xv) << "</text>\n";
        os << "<text x=\"" << f.x0 - 6 << "\" y=\"" << f.py(yv) + 4 << "\" text-anchor=\"end\">" << num(yv) << "</text>\n";
        os << "<line x1=\"" << f.x0 << "\" x2=\"" << f.x1 << "\" y1=\"" << f.py(yv) << "\" y2=\"" << f.py(yv)
           << "\" stroke=\"#eee\"/>\n";
    }
    os << "<text x=\"" << (f.x0 + f.x1) / 2 << "\" y=\"" << f.y0 + 36 << "\" text-anchor=\"middle\">" << esc(xl)
       << "</text>\n";
    os << "<text transform=\"translate(16," << (f.y0 + f.y1) / 2 << ") rotate(-90)\" text-anchor=\"middle\">" << esc(yl)
       << "</text>\n";
    return os.str();
}

}  // namespace

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series) {
    Frame f;
    f.xmin = f.ymin = INFINITY;
    f.xmax = f.ymax = -INFINITY;
    for (const Series& s : series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.y[i])) continue;
            f.xmin = std::min(f.xmin, s.x[i]), f.xmax = std::max(f.xmax, s.x[i]);
            f.ymin = std::min(f.ymin, s.y[i]), f.ymax = std::max(f.ymax, s.y[i]);
        }
    pad_range(f.xmin, f.xmax);
    pad_range(f.ymin, f.ymax);
    std::string out = header(title) + axes(f, x_label, y_label);
    for (size_t k = 0; k < series.size(); ++k) {
        const Series& s = series[k];
        std::ostringstream pts;
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
            if (std::isfinite(s.y[i])) pts << num(f.px(s.x[i])) << "," << num(f.py(s.y[i])) << " ";
        const char* col = kPalette[k % 8];
        out += "<polyline fill=\"none\" stroke=\"" + std::string(col) + "\" stroke-width=\"1.5\" points=\"" + pts.str() +
               "\"/>\n";
        out += "<text x=\"" + num(f.x1 - 4) + "\" y=\"" + num(f.y1 + 16 + 16 * k) + "\" text-anchor=\"end\" fill=\"" +
               col + "\">" + esc(s.name) + "</text>\n";
    }
    return out + "</svg>\n";
}

std::string svg_scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<double>& x, const std::vector<double>& y, bool diagonal) {
    Frame f;
    f.xmin = f.ymin = INFINITY;
    f.xmax = f.ymax = -INFINITY;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
        f.xmin = std::min(f.xmin, x[i]), f.xmax = std::max(f.xmax, x[i]);
        f.ymin = std::min(f.ymin, y[i]), f.ymax = std::max(f.ymax, y[i]);
    }
    if (diagonal) {  // same range on both axes so y = x is the diagonal
        f.xmin = f.ymin = std::min(f.xmin, f.ymin);
        f.xmax = f.ymax = std::max(f.xmax, f.ymax);
    }
    pad_range(f.xmin, f.xmax);
    pad_range(f.ymin, f.ymax);
    std::ostringstream os;
    os << header(title) << axes(f, x_label, y_label);
    if (diagonal) {
        double lo = std::max(f.xmin, f.ymin), hi = std::min(f.xmax, f.ymax);
        os << "<line x1=\"" << f.px(lo) << "\" y1=\"" << f.py(lo) << "\" x2=\"" << f.px(hi) << "\" y2=\"" << f.py(hi)
           << "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
    }
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
        if (std::isfinite(x[i]) && std::isfinite(y[i]))
            os << "<circle cx=\"" << num(f.px(x[i])) << "\" cy=\"" << num(f.py(y[i]))
               << "\" r=\"2\" fill=\"#1f77b4\" fill-opacity=\"0.5\"/>\n";
    os << "</svg>\n";
    return os.str();
}

std::string svg_heatmap(const std::string& title, const std::vector<std::string>& rows,
                        const std::vector<std::string>& cols, const std::vector<double>& v) {
    const int nr = (int)rows.size(), nc = (int)cols.size();
    const int cell = std::max(4, std::min(24, 560 / std::max(1, std::max(nr, nc))));
    const int left = 110, top = 110, w = left + cell * nc + 40, h = top + cell * nr + 40;
    double lo = 0, hi = 0;
    for (double x : v)
        if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
    bool diverging = lo < 0 && hi > 0;
    double m = std::max(std::fabs(lo), std::fabs(hi));
    std::ostringstream os;
    os << header(title, w, h);
    for (int i = 0; i < nr; ++i) {
        os << "<text x=\"" << left - 4 << "\" y=\"" << top + cell * i + cell * 0.75 << "\" text-anchor=\"end\" font-size=\""
           << std::min(11, cell) << "\">" << esc(rows[i]) << "</text>\n";
        for (int j = 0; j < nc; ++j) {
            double x = v[(size_t)i * nc + j];
            int r = 255, g = 255, b = 255;
            if (std::isfinite(x) && m > 0) {
                double t = diverging ? x / m : (x - lo) / std::max(1e-12, hi - lo);
                if (t >= 0) r = 255 - (int)(t * 200), g = 255 - (int)(t * 200), b = 255;  // towards blue
                else r = 255, g = 255 + (int)(t * 200), b = 255 + (int)(t * 200);        // towards red
                if (!diverging) r = 255 - (int)(t * 230), g = 255 - (int)(t * 120), b = 255 - (int)(t * 40);
            }
            os << "<rect x=\"" << left + cell * j << "\" y=\"" << top + cell * i << "\" width=\"" << cell << "\" height=\""
               << cell << "\" fill=\"rgb(" << r << "," << g << "," << b << ")\"><title>" << esc(rows[i]) << " -> "
               << esc(cols[j]) << ": " << num(x) << "</title></rect>\n";
        }
    }
    for (int j = 0; j < nc; ++j)
        os << "<text transform=\"translate(" << left + cell * j + cell * 0.7 << "," << top - 4
           << ") rotate(-60)\" font-size=\"" << std::min(11, cell) << "\">" << esc(cols[j]) << "</text>\n";
    os << "<text x=\"" << left << "\" y=\"" << h - 12 << "\">range " << num(lo) << " .. " << num(hi)
       << (diverging ? " (blue > 0, red < 0)" : "") << "</text>\n</svg>\n";
    return os.str();
}

std::string svg_bar_chart(const std::string& title, const std::string& y_label, const std::vector<std::string>& labels,
                          const std::vector<double>& values) {
    Frame f;
    f.y0 = 320;
    f.xmin = 0;
    f.xmax = (double)std::max<size_t>(1, values.size());
    f.ymin = 0;
    f.ymax = 0;
    for (double x : values)
        if (std::isfinite(x)) f.ymin = std::min(f.ymin, x), f.ymax = std::max(f.ymax, x);
    if (f.ymax - f.ymin < 1e-12) f.ymax = f.ymin + 1;
    std::ostringstream os;
    os << header(title);
    os << "<line x1=\"" << f.x0 << "\" x2=\"" << f.x1 << "\" y1=\"" << f.py(0) << "\" y2=\"" << f.py(0)
       << "\" stroke=\"#444\"/>\n";
    for (int i = 0; i <= 4; ++i) {
        double yv = f.ymin + (f.ymax - f.ymin) * i / 4;
        os << "<text x=\"" << f.x0 - 6 << "\" y=\"" << f.py(yv) + 4 << "\" text-anchor=\"end\">" << num(yv) << "</text>\n";
    }
    os << "<text transform=\"translate(16," << (f.y0 + f.y1) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
       << esc(y_label) << "</text>\n";
    double bw = (f.x1 - f.x0) / f.xmax;
    for (size_t i = 0; i < values.size(); ++i) {
        double v = std::isfinite(values[i]) ? values[i] : 0;
        double top = f.py(std::max(0.0, v)), bottom = f.py(std::min(0.0, v));
        os << "<rect x=\"" << num(f.x0 + bw * i + bw * 0.1) << "\" y=\"" << num(top) << "\" width=\"" << num(bw * 0.8)
           << "\" height=\"" << num(bottom - top) << "\" fill=\"#1f77b4\"><title>" << esc(labels[i]) << ": " << num(v)
           << "</title></rect>\n";
        os << "<text transform=\"translate(" << num(f.x0 + bw * i + bw * 0.6) << "," << f.y0 + 10
           << ") rotate(60)\" font-size=\"10\">" << esc(labels[i]) << "</text>\n";
    }
    os << "</svg>\n";
    return os.str();
}

}  // namespace gpo::io
