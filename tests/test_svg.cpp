// SVG figures: well-formed documents with one mark per data point, escaped labels, finite coordinates.
#include <gtest/gtest.h>

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
    EXPECT_EQ(count(hm, "<rect x="), 6);
    std::string bar = io::svg_bar_chart("pearson", "r", {"IRF1", "JAK2"}, {0.5, -0.25});
    EXPECT_EQ(count(bar, "<rect x="), 2);
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
