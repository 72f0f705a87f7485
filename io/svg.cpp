// SVG figures (see svg.h). Plain string building: a frame maps data coordinates into a plot box; ticks come from
// nice_ticks; colours from two fixed scales (sequential viridis-like, diverging blue/white/red).
#include "io/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
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

// A coordinate: one decimal is plenty for pixels.
std::string px(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", std::isfinite(v) ? v : 0.0);
    return b;
}

std::string fixed(double v, int decimals) {
    char b[48];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    std::string s = b;
    if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.00" -> "0.00"
    return s;
}

// A value in a tooltip or caption: 3 significant digits.
std::string value_text(double v) {
    if (!std::isfinite(v)) return "n/a";
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
}

struct Frame {  // maps data coordinates into the plot box
    double x0 = 72, x1 = 612, y0 = 360, y1 = 44;  // pixel box (y grows down)
    double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    double px(double x) const { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); }
    double py(double y) const { return y0 + (y - ymin) / (ymax - ymin) * (y1 - y0); }
};

std::string header(const std::string& title, int w, int h) {
    std::ostringstream os;
    os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h << "\" viewBox=\"0 0 " << w
       << " " << h << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\">\n"
       << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
       << "<text x=\"" << w / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">"
       << esc(title) << "</text>\n";
    return os.str();
}

// Axes box, grid lines and tick labels from the ticks, axis titles.
std::string axes(const Frame& f, const Ticks& xt, const Ticks& yt, const std::string& xl, const std::string& yl) {
    std::ostringstream os;
    for (size_t i = 0; i < yt.values.size(); ++i) {
        double y = f.py(yt.values[i]);
        os << "<line x1=\"" << px(f.x0) << "\" x2=\"" << px(f.x1) << "\" y1=\"" << px(y) << "\" y2=\"" << px(y)
           << "\" stroke=\"#e6e6e6\"/>\n"
           << "<text x=\"" << px(f.x0 - 6) << "\" y=\"" << px(y + 4) << "\" text-anchor=\"end\">" << yt.labels[i]
           << "</text>\n";
    }
    for (size_t i = 0; i < xt.values.size(); ++i) {
        double x = f.px(xt.values[i]);
        os << "<line x1=\"" << px(x) << "\" x2=\"" << px(x) << "\" y1=\"" << px(f.y0) << "\" y2=\"" << px(f.y0 + 4)
           << "\" stroke=\"#444\"/>\n"
           << "<text x=\"" << px(x) << "\" y=\"" << px(f.y0 + 18) << "\" text-anchor=\"middle\">" << xt.labels[i]
           << "</text>\n";
    }
    os << "<rect x=\"" << px(f.x0) << "\" y=\"" << px(f.y1) << "\" width=\"" << px(f.x1 - f.x0) << "\" height=\""
       << px(f.y0 - f.y1) << "\" fill=\"none\" stroke=\"#444\"/>\n"
       << "<text x=\"" << px((f.x0 + f.x1) / 2) << "\" y=\"" << px(f.y0 + 40) << "\" text-anchor=\"middle\">" << esc(xl)
       << "</text>\n"
       << "<text transform=\"translate(18," << px((f.y0 + f.y1) / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
       << esc(yl) << "</text>\n";
    return os.str();
}

void finite_range(const std::vector<double>& v, double& lo, double& hi) {
    for (double x : v)
        if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
}

bool all_integers(const std::vector<Series>& series) {
    for (const Series& s : series)
        for (double x : s.x)
            if (std::isfinite(x) && x != std::round(x)) return false;
    return true;
}

// Sequential scale (a viridis-like ramp through 5 stops), t in [0, 1].
std::string sequential(double t) {
    static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    t = std::clamp(t, 0.0, 1.0) * 4;
    int i = std::min(3, (int)t);
    double u = t - i;
    char b[32];
    std::snprintf(b, sizeof b, "rgb(%d,%d,%d)", (int)std::lround(stops[i][0] + u * (stops[i + 1][0] - stops[i][0])),
                  (int)std::lround(stops[i][1] + u * (stops[i + 1][1] - stops[i][1])),
                  (int)std::lround(stops[i][2] + u * (stops[i + 1][2] - stops[i][2])));
    return b;
}

// Diverging scale, t in [-1, 1]: red (negative) - white - blue (positive).
std::string diverging(double t) {
    t = std::clamp(t, -1.0, 1.0);
    int r, g, b;
    if (t >= 0) r = (int)std::lround(255 - 222 * t), g = (int)std::lround(255 - 153 * t), b = (int)std::lround(255 - 75 * t);
    else r = (int)std::lround(255 + 41 * t), g = (int)std::lround(255 + 196 * t), b = (int)std::lround(255 + 200 * t);
    char s[32];
    std::snprintf(s, sizeof s, "rgb(%d,%d,%d)", r, g, b);
    return s;
}

}  // namespace

Ticks nice_ticks(double lo, double hi, int target, bool integer) {
    Ticks t;
    if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
    if (hi < lo) std::swap(lo, hi);
    if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {
        double pad = lo == 0 ? 1.0 : 0.1 * std::fabs(lo);
        lo -= pad, hi += pad;
    }
    double raw = (hi - lo) / std::max(1, target), mag = std::pow(10.0, std::floor(std::log10(raw)));
    double frac = raw / mag, mult = frac <= 1 ? 1 : frac <= 2 ? 2 : frac <= 2.5 ? 2.5 : frac <= 5 ? 5 : 10;
    t.step = mult * mag;
    if (integer) t.step = std::max(1.0, std::round(t.step));
    t.lo = std::floor(lo / t.step + 1e-9) * t.step;
    t.hi = std::ceil(hi / t.step - 1e-9) * t.step;
    int decimals = std::max(0, -(int)std::floor(std::log10(t.step) + 1e-9));
    if (mult == 2.5 && t.step < 10) ++decimals;  // 0.25, 2.5
    const int n = (int)std::lround((t.hi - t.lo) / t.step);
    for (int i = 0; i <= n; ++i) {
        t.values.push_back(t.lo + i * t.step);
        t.labels.push_back(fixed(t.values.back(), decimals));
    }
    return t;
}

std::string svg_line_chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<Series>& series) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (const Series& s : series) {
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
            xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
            ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
        }
    }
    Ticks xt = nice_ticks(xlo, xhi, 6, all_integers(series)), yt = nice_ticks(ylo, yhi, 5);
    Frame f;
    f.xmin = xt.lo, f.xmax = xt.hi, f.ymin = yt.lo, f.ymax = yt.hi;
    std::string out = header(title, 640, 420) + axes(f, xt, yt, x_label, y_label);
    for (size_t k = 0; k < series.size(); ++k) {
        const Series& s = series[k];
        std::ostringstream pts;
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
            if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) pts << px(f.px(s.x[i])) << "," << px(f.py(s.y[i])) << " ";
        const std::string col = kPalette[k % 8];
        out += "<polyline fill=\"none\" stroke=\"" + col + "\" stroke-width=\"2\" points=\"" + pts.str() + "\"/>\n";
        // Legend entry: a short line and the name, top right inside the box.
        const double ly = f.y1 + 18 + 18 * k;
        out += "<line x1=\"" + px(f.x1 - 120) + "\" x2=\"" + px(f.x1 - 96) + "\" y1=\"" + px(ly - 4) + "\" y2=\"" +
               px(ly - 4) + "\" stroke=\"" + col + "\" stroke-width=\"2\"/>\n";
        out += "<text x=\"" + px(f.x1 - 90) + "\" y=\"" + px(ly) + "\">" + esc(s.name) + "</text>\n";
    }
    return out + "</svg>\n";
}

std::string svg_scatter(const std::string& title, const std::string& x_label, const std::string& y_label,
                        const std::vector<double>& x, const std::vector<double>& y, bool diagonal) {
    std::vector<double> fx, fy;  // the finite pairs
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
        if (std::isfinite(x[i]) && std::isfinite(y[i])) fx.push_back(x[i]), fy.push_back(y[i]);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    finite_range(fx, xlo, xhi);
    finite_range(fy, ylo, yhi);
    if (diagonal) xlo = ylo = std::min(xlo, ylo), xhi = yhi = std::max(xhi, yhi);
    Ticks xt = nice_ticks(xlo, xhi, 6), yt = diagonal ? xt : nice_ticks(ylo, yhi, 6);
    Frame f;
    f.x1 = diagonal ? f.x0 + (f.y0 - f.y1) : f.x1;  // square box when the axes share a range
    f.xmin = xt.lo, f.xmax = xt.hi, f.ymin = yt.lo, f.ymax = yt.hi;
    std::ostringstream os;
    os << header(title, diagonal ? (int)f.x1 + 40 : 640, 420) << axes(f, xt, yt, x_label, y_label);
    if (diagonal)
        os << "<line x1=\"" << px(f.px(f.xmin)) << "\" y1=\"" << px(f.py(f.xmin)) << "\" x2=\"" << px(f.px(f.xmax))
           << "\" y2=\"" << px(f.py(f.xmax)) << "\" stroke=\"#888\" stroke-dasharray=\"5 4\"/>\n";
    for (size_t i = 0; i < fx.size(); ++i)
        os << "<circle cx=\"" << px(f.px(fx[i])) << "\" cy=\"" << px(f.py(fy[i]))
           << "\" r=\"2\" fill=\"#1f77b4\" fill-opacity=\"0.45\"/>\n";
    // Pearson r over the finite pairs (undefined when a side is constant).
    double r = NAN;
    const size_t n = fx.size();
    if (n >= 2) {
        double mx = std::accumulate(fx.begin(), fx.end(), 0.0) / n, my = std::accumulate(fy.begin(), fy.end(), 0.0) / n;
        double sxy = 0, sxx = 0, syy = 0;
        for (size_t i = 0; i < n; ++i)
            sxy += (fx[i] - mx) * (fy[i] - my), sxx += (fx[i] - mx) * (fx[i] - mx), syy += (fy[i] - my) * (fy[i] - my);
        if (sxx > 0 && syy > 0) r = sxy / std::sqrt(sxx * syy);
    }
    os << "<text x=\"" << px(f.x0 + 8) << "\" y=\"" << px(f.y1 + 18) << "\">Pearson r = "
       << (std::isfinite(r) ? fixed(r, 3) : std::string("n/a")) << ", n = " << n << "</text>\n</svg>\n";
    return os.str();
}

std::string svg_heatmap(const std::string& title, const std::vector<std::string>& rows,
                        const std::vector<std::string>& cols, const std::vector<double>& v,
                        const std::string& value_label) {
    const int nr = (int)rows.size(), nc = (int)cols.size();
    const double cell = std::max(1.0, std::min(24.0, 600.0 / std::max(1, std::max(nr, nc))));
    // Labels need ~12 px: with smaller cells only every k-th row/column is labelled.
    const int every = std::max(1, (int)std::ceil(12.0 / cell));
    const double font = std::min(11.0, std::max(9.0, cell * every * 0.8));
    const double left = 100, top = 100, map_w = cell * nc, map_h = cell * nr;
    const int w = (int)(left + map_w + 150), h = (int)(top + map_h + 50);
    double lo = INFINITY, hi = -INFINITY;
    finite_range(v, lo, hi);
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    const bool div = lo < 0 && hi > 0;
    const double m = std::max(std::fabs(lo), std::fabs(hi));
    const double slo = div ? -m : lo, shi = div ? m : (hi > lo ? hi : lo + 1e-12);
    auto colour = [&](double x) {
        if (!std::isfinite(x)) return std::string("rgb(200,200,200)");
        return div ? diverging(x / m) : sequential((x - slo) / (shi - slo));
    };
    std::ostringstream os;
    os << header(title, w, h);
    for (int i = 0; i < nr; ++i) {
        if (i % every == 0)
            os << "<text x=\"" << px(left - 4) << "\" y=\"" << px(top + cell * i + cell * every / 2 + font / 3)
               << "\" text-anchor=\"end\" font-size=\"" << px(font) << "\">" << esc(rows[i]) << "</text>\n";
        for (int j = 0; j < nc; ++j) {
            double x = v[(size_t)i * nc + j];
            os << "<rect x=\"" << px(left + cell * j) << "\" y=\"" << px(top + cell * i) << "\" width=\"" << px(cell)
               << "\" height=\"" << px(cell) << "\" fill=\"" << colour(x) << "\"><title>" << esc(rows[i]) << " -&gt; "
               << esc(cols[j]) << ": " << value_text(x) << "</title></rect>\n";
        }
    }
    for (int j = 0; j < nc; j += every)
        os << "<text transform=\"translate(" << px(left + cell * j + cell * every / 2 + font / 3) << "," << px(top - 4)
           << ") rotate(-60)\" font-size=\"" << px(font) << "\">" << esc(cols[j]) << "</text>\n";
    os << "<text x=\"" << px(left + map_w / 2) << "\" y=\"" << px(top + map_h + 20)
       << "\" text-anchor=\"middle\" font-size=\"11\">rows: source, columns: target</text>\n";
    // Colour bar: 50 steps over [slo, shi], ticks of the values' range.
    const double bx = left + map_w + 24, bw = 14, by = top, bh = std::max(120.0, std::min(map_h, 300.0));
    for (int k = 0; k < 50; ++k) {
        double t = slo + (shi - slo) * (49.5 - k) / 50;
        os << "<rect x=\"" << px(bx) << "\" y=\"" << px(by + bh * k / 50) << "\" width=\"" << px(bw) << "\" height=\""
           << px(bh / 50 + 0.5) << "\" fill=\"" << colour(t) << "\"/>\n";
    }
    os << "<rect x=\"" << px(bx) << "\" y=\"" << px(by) << "\" width=\"" << px(bw) << "\" height=\"" << px(bh)
       << "\" fill=\"none\" stroke=\"#444\"/>\n";
    Ticks bt = nice_ticks(slo, shi, 4);
    for (size_t k = 0; k < bt.values.size(); ++k) {
        double t = bt.values[k];
        if (t < slo - 1e-12 || t > shi + 1e-12) continue;
        double y = by + bh * (shi - t) / (shi - slo);
        os << "<line x1=\"" << px(bx + bw) << "\" x2=\"" << px(bx + bw + 4) << "\" y1=\"" << px(y) << "\" y2=\"" << px(y)
           << "\" stroke=\"#444\"/>\n<text x=\"" << px(bx + bw + 6) << "\" y=\"" << px(y + 4) << "\" font-size=\"11\">"
           << bt.labels[k] << "</text>\n";
    }
    os << "<text x=\"" << px(bx) << "\" y=\"" << px(by + bh + 18) << "\" font-size=\"11\">" << esc(value_label)
       << "</text>\n<text x=\"" << px(bx) << "\" y=\"" << px(by + bh + 32) << "\" font-size=\"11\">" << value_text(lo)
       << " to " << value_text(hi) << "</text>\n</svg>\n";
    return os.str();
}

std::string svg_bar_chart(const std::string& title, const std::string& y_label, const std::vector<std::string>& labels,
                          const std::vector<double>& values) {
    const size_t n = std::min(labels.size(), values.size());
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        bool fa = std::isfinite(values[a]), fb = std::isfinite(values[b]);
        if (fa != fb) return fa;
        return fa && values[a] > values[b];
    });
    size_t longest = 1;
    for (size_t i = 0; i < n; ++i) longest = std::max(longest, labels[i].size());
    // Bars of 4-40 px (a figure up to ~900 px wide for any count); labels need ~11 px, so with narrower bars only
    // every k-th bar is labelled (every bar keeps its value as a tooltip).
    const double bar = std::max(4.0, std::min(40.0, 900.0 / std::max<size_t>(1, n)));
    const size_t every = std::max<size_t>(1, (size_t)std::ceil(11.0 / bar));
    Frame f;
    f.x1 = f.x0 + bar * std::max<size_t>(1, n);
    f.y0 = 330;
    const int w = (int)f.x1 + 30, h = (int)(f.y0 + 20 + 6.5 * std::min<size_t>(longest, 24) * 0.8 + 20);
    double lo = 0, hi = 0;
    finite_range(values, lo, hi);
    Ticks yt = nice_ticks(lo, hi, 5);
    f.ymin = yt.lo, f.ymax = yt.hi;
    std::ostringstream os;
    os << header(title, std::max(w, 400), h);
    for (size_t i = 0; i < yt.values.size(); ++i) {
        double y = f.py(yt.values[i]);
        os << "<line x1=\"" << px(f.x0) << "\" x2=\"" << px(f.x1) << "\" y1=\"" << px(y) << "\" y2=\"" << px(y)
           << "\" stroke=\"#e6e6e6\"/>\n<text x=\"" << px(f.x0 - 6) << "\" y=\"" << px(y + 4)
           << "\" text-anchor=\"end\">" << yt.labels[i] << "</text>\n";
    }
    os << "<text transform=\"translate(18," << px((f.y0 + f.y1) / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
       << esc(y_label) << "</text>\n";
    for (size_t k = 0; k < n; ++k) {
        const size_t i = order[k];
        const double x = f.x0 + bar * k, v = values[i];
        if (std::isfinite(v)) {
            double top = f.py(std::max(0.0, v)), bottom = f.py(std::min(0.0, v));
            os << "<rect x=\"" << px(x + bar * 0.12) << "\" y=\"" << px(top) << "\" width=\"" << px(bar * 0.76)
               << "\" height=\"" << px(std::max(0.5, bottom - top)) << "\" fill=\"" << (v >= 0 ? "#1f77b4" : "#d62728")
               << "\"><title>" << esc(labels[i]) << ": " << value_text(v) << "</title></rect>\n";
        } else {
            os << "<text x=\"" << px(x + bar / 2) << "\" y=\"" << px(f.py(0) - 4)
               << "\" text-anchor=\"middle\" font-size=\"9\" fill=\"#888\">n/a</text>\n";
        }
        if (k % every == 0)
            os << "<text transform=\"translate(" << px(x + bar / 2 + 3) << "," << px(f.y0 + 8)
               << ") rotate(-55)\" text-anchor=\"end\" font-size=\"10\">" << esc(labels[i]) << "</text>\n";
    }
    os << "<line x1=\"" << px(f.x0) << "\" x2=\"" << px(f.x1) << "\" y1=\"" << px(f.py(0)) << "\" y2=\"" << px(f.py(0))
       << "\" stroke=\"#444\"/>\n<rect x=\"" << px(f.x0) << "\" y=\"" << px(f.y1) << "\" width=\"" << px(f.x1 - f.x0)
       << "\" height=\"" << px(f.y0 - f.y1) << "\" fill=\"none\" stroke=\"#444\"/>\n</svg>\n";
    return os.str();
}

}  // namespace gpo::io
