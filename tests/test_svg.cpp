// SVG figures: well-formed documents with one mark per data point, escaped labels, finite coordinates.
#include <gtest/gtest.h>

#include <cmath>

#include "io/svg.h"

using namespace gpo;

static int count(const std::string& s, const std::string& what) {
    int n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}

TEST(Svg, EachFigureHasOneMarkPerValueAndEscapesText) {
    std::string sc = io::svg_scatter("ATE <pred> vs obs", "observed", "predicted", {0, 1, 2}, {0.1, 0.9, 2.2});
    EXPECT_EQ(sc.rfind("<svg", 0), 0u);
    EXPECT_NE(sc.find("</svg>"), std::string::npos);
    EXPECT_EQ(count(sc, "<circle"), 3);
    EXPECT_NE(sc.find("ATE &lt;pred&gt; vs obs"), std::string::npos);
    EXPECT_EQ(sc.find("nan"), std::string::npos);
    std::string hm = io::svg_heatmap("grn", {"A", "B"}, {"A", "B", "C"}, {0.1, -0.5, 0.9, 0, 1, -1});
    EXPECT_EQ(count(hm, "</title></rect>"), 6);  // one cell per value (the colour bar's rects have no title)
    std::string bar = io::svg_bar_chart("pearson", "r", {"IRF1", "JAK2"}, {0.5, -0.25});
    EXPECT_EQ(count(bar, "</title></rect>"), 2);
    std::string line = io::svg_line_chart("loss", "epoch", "loss", {{"train", {1, 2, 3}, {3, 2, 1}}, {"val", {1, 2, 3}, {4, 3, 2.5}}});
    EXPECT_EQ(count(line, "<polyline"), 2);
    EXPECT_EQ(line.find("nan"), std::string::npos);
}

TEST(Svg, DegenerateInputsStayFinite) {
    std::string sc = io::svg_scatter("one point", "x", "y", {1}, {1});
    EXPECT_EQ(sc.find("nan"), std::string::npos);
    EXPECT_EQ(sc.find("inf"), std::string::npos);
    std::string line = io::svg_line_chart("empty", "x", "y", {});
    EXPECT_EQ(line.find("nan"), std::string::npos);
}

TEST(Svg, NiceTicksAreRoundValuesWithTheDecimalsTheStepNeeds) {
    // The demo's old axis labels: -0.45 .. 0.3 in quarter steps of an arbitrary range, 7.525 epochs.
    io::Ticks t = io::nice_ticks(-0.4649, 0.31, 5);
    EXPECT_EQ(t.step, 0.2);
    EXPECT_EQ(t.labels, (std::vector<std::string>{"-0.6", "-0.4", "-0.2", "0.0", "0.2", "0.4"}));
    EXPECT_LE(t.lo, -0.4649);
    EXPECT_GE(t.hi, 0.31);
    io::Ticks e = io::nice_ticks(1, 30, 6, true);  // epochs
    EXPECT_EQ(e.labels, (std::vector<std::string>{"0", "5", "10", "15", "20", "25", "30"}));
    io::Ticks small = io::nice_ticks(1, 3, 6, true);  // integers never get fractional steps
    EXPECT_EQ(small.step, 1);
    io::Ticks q = io::nice_ticks(0, 1, 4);  // 2.5 x 10^-1 needs two decimals
    EXPECT_EQ(q.labels, (std::vector<std::string>{"0.00", "0.25", "0.50", "0.75", "1.00"}));
    io::Ticks big = io::nice_ticks(47.84, 52.1, 5);
    EXPECT_EQ(big.labels, (std::vector<std::string>{"47", "48", "49", "50", "51", "52", "53"}));
    io::Ticks flat = io::nice_ticks(0.4, 0.4, 5);  // a constant still gets a range around it
    EXPECT_LT(flat.lo, 0.4);
    EXPECT_GT(flat.hi, 0.4);
    for (const auto& l : io::nice_ticks(-1e-17, 1, 5).labels) EXPECT_NE(l, "-0.0");
}

TEST(Svg, ScatterShowsPearsonBarsAreSortedHeatmapBarSpansTheValues) {
    std::string sc = io::svg_scatter("s", "x", "y", {1, 2, 3, 4}, {2, 4, 6, 8.5});
    EXPECT_NE(sc.find("Pearson r = 0.998, n = 4"), std::string::npos) << sc;
    std::string bar = io::svg_bar_chart("b", "r", {"LOW", "NONE", "HIGH", "MID"}, {0.1, NAN, 0.9, 0.5});
    size_t hi = bar.find(">HIGH<"), mid = bar.find(">MID<"), low = bar.find(">LOW<"), none = bar.find(">NONE<");
    ASSERT_NE(none, std::string::npos);
    EXPECT_TRUE(hi < mid && mid < low && low < none) << bar;
    EXPECT_NE(bar.find("n/a"), std::string::npos);
    // A block of probabilities in 0.40-0.52 (the demo GRN): a sequential scale over that range, not from 0, so the
    // smallest and largest values get the two ends of the scale.
    std::string hm = io::svg_heatmap("g", {"A", "B"}, {"A", "B"}, {0.40, 0.46, 0.52, 0.43}, "edge probability");
    EXPECT_NE(hm.find("A -&gt; A: 0.4<"), std::string::npos) << hm;
    EXPECT_NE(hm.find("0.4 to 0.52"), std::string::npos) << hm;
    EXPECT_NE(hm.find("edge probability"), std::string::npos);
    auto fill_of = [&](const std::string& cell) {
        size_t p = hm.rfind("fill=\"", hm.find(cell));
        return hm.substr(p + 6, hm.find('"', p + 6) - p - 6);
    };
    EXPECT_EQ(fill_of("A -&gt; A:"), "rgb(68,1,84)");     // the minimum: first stop
    EXPECT_EQ(fill_of("B -&gt; A:"), "rgb(253,231,37)");  // the maximum: last stop
}
