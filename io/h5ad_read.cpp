// h5ad_read: X or a layer into CSR float32 (CSR/CSC groups and dense 2-D datasets of any integer/float dtype,
// read in blocks so a dense copy of the matrix is never held), obs/var dataframes and uns scalars.
// Layout: the AnnData on-disk format (anndata.readthedocs.io, "On-disk format"), encoding-version 0.1.0/0.2.0.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/check.h"
#include "io/h5ad.h"
#include "io/h5ad_probe.h"
#include "io/hdf5_util.h"

namespace gpo::io {

using h5::Id;
using h5::Where;

namespace {

const int64_t kBlock = 1 << 20;  // elements per block read (8 MB of doubles)

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? "none" : s;
}

std::string fmt(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

Id open_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) h5::fail_file(path, std::string("cannot open file (") + std::strerror(errno) + ")");
    std::fclose(f);
    htri_t is = H5Fis_hdf5(path.c_str());
    if (is <= 0) h5::fail_file(path, "not an HDF5 file");
    hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) h5::fail_file(path, "cannot open as HDF5 (truncated or corrupt file?)");
    return Id(id);
}

// ---------------------------------------------------------------------------- matrices

// Checks that the values of dataset `type` can be read as numbers; returns whether they are integers.
bool numeric_source(hid_t type, const Where& w) {
    H5T_class_t c = h5::type_class(type, w);
    if (c != H5T_INTEGER && c != H5T_FLOAT)
        h5::fail(w, "has type " + h5::type_description(type) + ", expected integer or float values");
    return c == H5T_INTEGER;
}

// Whether a value read as double survives narrowing to float32 f: integers must be exact, finite floats must not
// overflow (rounding a float64 to float32 is expected).
inline bool representable(double v, float f, bool int_source) {
    return int_source ? (double)f == v : (!std::isfinite(v) || std::isfinite(f));
}

std::string not_representable(double v, const std::string& where) {
    return "value " + fmt(v) + " at " + where + " is not representable as float32";
}

using BlockSink = std::function<void(const CsrMatrix&)>;

// A dense 2-D dataset (rows x cols), read in blocks of rows; zeros are dropped. With a sink, each block goes there.
CsrMatrix read_dense(hid_t dset, const std::vector<int64_t>& dims, const Where& w, const BlockSink& sink) {
    CsrMatrix m;
    m.rows = dims[0];
    m.cols = dims[1];
    GPO_CHECK(m.cols <= INT32_MAX, w.file << ": " << w.field << ": " << m.cols << " columns do not fit int32 indices");
    Id type = h5::dataset_type(dset, w);
    bool int_src = numeric_source(type, w);
    m.indptr.assign(1, 0);
    m.indptr.reserve((size_t)m.rows + 1);
    int64_t block_rows = std::max<int64_t>(1, kBlock / std::max<int64_t>(1, m.cols));
    std::vector<double> buf((size_t)(std::min(block_rows, std::max<int64_t>(m.rows, 1)) * m.cols));
    for (int64_t r0 = 0; r0 < m.rows; r0 += block_rows) {
        int64_t nr = std::min(block_rows, m.rows - r0);
        h5::read_rows(dset, H5T_NATIVE_DOUBLE, r0, nr, m.cols, buf.data(), w);
        for (int64_t i = 0; i < nr; ++i) {
            const double* row = buf.data() + i * m.cols;
            for (int64_t j = 0; j < m.cols; ++j) {
                if (row[j] == 0.0) continue;
                float f = (float)row[j];
                if (!representable(row[j], f, int_src))
                    h5::fail(w, not_representable(row[j], "row " + std::to_string(r0 + i) + ", column " + std::to_string(j)));
                m.indices.push_back((int32_t)j);
                m.data.push_back(f);
            }
            m.indptr.push_back((int64_t)m.data.size());
        }
        if (sink) {  // m holds only this block: hand it over as a matrix of its rows, then empty it
            const int64_t all_rows = m.rows;
            m.rows = nr;
            sink(m);
            m.rows = all_rows;
            m.indptr.assign(1, 0);
            m.indices.clear();
            m.data.clear();
        }
    }
    if (sink) m.indptr.clear();
    m.indices.shrink_to_fit();
    m.data.shrink_to_fit();
    return m;
}

// A csr_matrix or csc_matrix group with attribute shape = [rows, cols]. `major` = rows (CSR) or cols (CSC) is the
// indptr dimension, `minor` the range of the indices. Values go to data, indices to idx (checked in [0, minor)).
// `major_name` says what major counts ("rows" or "cols"), for the indptr length message.
// With a sink (CSR only), idx and data stay empty and the rows go to the sink in blocks.
void read_compressed(hid_t g, int64_t major, int64_t minor, const std::string& major_name, const Where& w,
                     std::vector<int64_t>& indptr, std::vector<int32_t>& idx, std::vector<float>& data,
                     const BlockSink& sink = nullptr) {
    Id dp = h5::open_dataset(g, "indptr", w);
    Id di = h5::open_dataset(g, "indices", w);
    Id dd = h5::open_dataset(g, "data", w);
    std::vector<int64_t> dims_i = h5::dataset_dims(di, w.sub("indices"));
    std::vector<int64_t> dims_d = h5::dataset_dims(dd, w.sub("data"));
    if (dims_i.size() != 1) h5::fail(w.sub("indices"), "expected a 1-D dataset");
    if (dims_d.size() != 1) h5::fail(w.sub("data"), "expected a 1-D dataset");
    int64_t nnz = dims_d[0];
    if (dims_i[0] != nnz)
        h5::fail(w, "indices has " + std::to_string(dims_i[0]) + " entries but data has " + std::to_string(nnz));

    indptr = h5::read_int64s(dp, w.sub("indptr"));
    if ((int64_t)indptr.size() != major + 1)
        h5::fail(w.sub("indptr"), "has length " + std::to_string(indptr.size()) + ", expected " + major_name + " + 1 = " +
                                  std::to_string(major + 1) + " (from the shape attribute)");
    if (indptr[0] != 0) h5::fail(w.sub("indptr"), "starts at " + std::to_string(indptr[0]) + ", expected 0");
    for (int64_t k = 0; k < major; ++k)
        if (indptr[(size_t)k + 1] < indptr[(size_t)k])
            h5::fail(w.sub("indptr"), "decreases at position " + std::to_string(k + 1) + ", expected non-decreasing");
    if (indptr[(size_t)major] != nnz)
        h5::fail(w.sub("indptr"), "ends at " + std::to_string(indptr[(size_t)major]) + ", expected nnz = " +
                                  std::to_string(nnz) + " (the length of data)");

    Id dtype = h5::dataset_type(dd, w.sub("data"));
    bool int_src = numeric_source(dtype, w.sub("data"));
    Id itype = h5::dataset_type(di, w.sub("indices"));
    if (h5::type_class(itype, w.sub("indices")) != H5T_INTEGER)
        h5::fail(w.sub("indices"), "has type " + h5::type_description(itype) + ", expected integers");

    // Entries [k0, k0 + n) into idx / data, checked: indices in [0, minor), values representable as float32.
    std::vector<int64_t> ibuf;
    std::vector<double> dbuf;
    auto read_entries = [&](int64_t k0, int64_t n, int32_t* idx_out, float* data_out) {
        for (int64_t c0 = 0; c0 < n; c0 += kBlock) {
            const int64_t m = std::min(kBlock, n - c0);
            ibuf.resize((size_t)m);
            dbuf.resize((size_t)m);
            h5::read_1d(di, H5T_NATIVE_INT64, k0 + c0, m, ibuf.data(), w.sub("indices"));
            h5::read_1d(dd, H5T_NATIVE_DOUBLE, k0 + c0, m, dbuf.data(), w.sub("data"));
            for (int64_t k = 0; k < m; ++k) {
                const int64_t j = ibuf[(size_t)k], at = k0 + c0 + k;
                if (j < 0 || j >= minor)
                    h5::fail(w.sub("indices"), "value " + std::to_string(j) + " at element " + std::to_string(at) +
                                               " is outside [0, " + std::to_string(minor) + ")");
                idx_out[c0 + k] = (int32_t)j;
                float f = (float)dbuf[(size_t)k];
                if (!representable(dbuf[(size_t)k], f, int_src))
                    h5::fail(w.sub("data"), not_representable(dbuf[(size_t)k], "element " + std::to_string(at)));
                data_out[c0 + k] = f;
            }
        }
    };
    if (!sink) {
        idx.resize((size_t)nnz);
        data.resize((size_t)nnz);
        read_entries(0, nnz, idx.data(), data.data());
        return;
    }
    // Row blocks of about kBlock entries (at least one row each), handed over in order.
    CsrMatrix block;
    block.cols = minor;
    for (int64_t r0 = 0; r0 < major;) {
        int64_t r1 = r0 + 1;
        while (r1 < major && indptr[(size_t)r1 + 1] - indptr[(size_t)r0] <= kBlock) ++r1;
        const int64_t k0 = indptr[(size_t)r0], n = indptr[(size_t)r1] - k0;
        block.rows = r1 - r0;
        block.indptr.resize((size_t)block.rows + 1);
        for (int64_t r = r0; r <= r1; ++r) block.indptr[(size_t)(r - r0)] = indptr[(size_t)r] - k0;
        block.indices.resize((size_t)n);
        block.data.resize((size_t)n);
        read_entries(k0, n, block.indices.data(), block.data.data());
        sink(block);
        r0 = r1;
    }
}

CsrMatrix read_sparse(hid_t g, bool csr, const Where& w, const BlockSink& sink) {
    std::vector<int64_t> shape = h5::read_attr_ints(g, "shape", w);
    if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0)
        h5::fail(w, "attribute 'shape' has " + std::to_string(shape.size()) + " entries, expected [rows, cols]");
    CsrMatrix m;
    m.rows = shape[0];
    m.cols = shape[1];
    GPO_CHECK(m.cols <= INT32_MAX && m.rows <= INT32_MAX,
              w.file << ": " << w.field << ": shape " << m.rows << " x " << m.cols << " does not fit int32 indices");
    if (csr) {
        read_compressed(g, m.rows, m.cols, "rows", w, m.indptr, m.indices, m.data, sink);
        if (sink) m.indptr.clear();
        return m;
    }
    // CSC -> CSR: count entries per row, prefix-sum, then scatter column by column (rows come out sorted).
    std::vector<int64_t> cptr;
    std::vector<int32_t> rowidx;
    std::vector<float> vals;
    read_compressed(g, m.cols, m.rows, "cols", w, cptr, rowidx, vals);
    m.indptr.assign((size_t)m.rows + 1, 0);
    for (int32_t r : rowidx) m.indptr[(size_t)r + 1]++;
    for (int64_t r = 0; r < m.rows; ++r) m.indptr[(size_t)r + 1] += m.indptr[(size_t)r];
    std::vector<int64_t> next(m.indptr.begin(), m.indptr.end() - 1);
    m.indices.resize(rowidx.size());
    m.data.resize(vals.size());
    for (int64_t c = 0; c < m.cols; ++c)
        for (int64_t k = cptr[(size_t)c]; k < cptr[(size_t)c + 1]; ++k) {
            int64_t pos = next[(size_t)rowidx[(size_t)k]]++;
            m.indices[(size_t)pos] = (int32_t)c;
            m.data[(size_t)pos] = vals[(size_t)k];
        }
    if (sink) {  // converted whole: handed over as one block
        sink(m);
        m.indptr.clear();
        m.indices.clear();
        m.data.clear();
    }
    return m;
}

// X or layers/<name>: a dense 2-D dataset, or a csr_matrix / csc_matrix group.
CsrMatrix read_matrix(hid_t loc, const std::string& name, const Where& w, const BlockSink& sink) {
    const std::string expected = "expected csr_matrix, csc_matrix or a dense 2-D dataset";
    Id obj = h5::open_object(loc, name, Where{w.file, ""});
    if (h5::is_dataset(obj)) {
        std::vector<int64_t> dims = h5::dataset_dims(obj, w);
        if (dims.size() != 2)
            h5::fail_file(w.file, w.field + " is a " + std::to_string(dims.size()) + "-D dataset, " + expected);
        return read_dense(obj, dims, w, sink);
    }
    std::string enc = h5::read_attr_string_or(obj, "encoding-type", "", w);
    if (enc.empty() && h5::attr_exists(obj, "h5sparse_format")) {  // anndata < 0.7 / h5sparse layout
        enc = h5::read_attr_string(obj, "h5sparse_format", w) + "_matrix";
    }
    if (enc != "csr_matrix" && enc != "csc_matrix")
        h5::fail_file(w.file, w.field + " has encoding-type '" + enc + "', " + expected);
    return read_sparse(obj, enc == "csr_matrix", w, sink);
}

// ---------------------------------------------------------------------------- dataframes

// Labels of a categories dataset: strings, or numbers formatted as text.
std::vector<std::string> read_labels(hid_t dset, const Where& w) {
    Id type = h5::dataset_type(dset, w);
    if (H5Tget_class(type) == H5T_STRING) return h5::read_strings(dset, w);
    Column c = Column::numeric(h5::read_doubles(dset, w), H5Tget_class(type) == H5T_INTEGER);
    std::vector<std::string> out;
    for (size_t i = 0; i < c.size(); ++i) out.push_back(c.label(i));
    return out;
}

Column read_column_group(hid_t g, const std::string& enc, const Where& w) {
    if (enc == "categorical") {
        Id dc = h5::open_dataset(g, "codes", w);
        Id dk = h5::open_dataset(g, "categories", w);
        Column c = Column::categorical(read_labels(dk, w.sub("categories")), {});
        c.ordered = h5::attr_exists(g, "ordered") ? h5::read_attr_bool(g, "ordered", w) : false;
        std::vector<int64_t> codes = h5::read_int64s(dc, w.sub("codes"));
        c.codes.reserve(codes.size());
        for (size_t i = 0; i < codes.size(); ++i) {
            if (codes[i] < -1 || codes[i] >= (int64_t)c.categories.size())
                h5::fail(w.sub("codes"), "value " + std::to_string(codes[i]) + " at row " + std::to_string(i) +
                                         " is outside [-1, " + std::to_string(c.categories.size()) + ")");
            c.codes.push_back((int32_t)codes[i]);
        }
        return c;
    }
    if (enc == "nullable-integer" || enc == "nullable-boolean" || enc == "nullable-string-array") {
        Id dv = h5::open_dataset(g, "values", w);
        Id dm = h5::open_dataset(g, "mask", w);
        std::vector<uint8_t> mask = h5::read_bools(dm, w.sub("mask"));
        bool any_missing = false;
        for (uint8_t m : mask) any_missing = any_missing || m;
        Column c;
        if (enc == "nullable-string-array") {
            c = Column::string(h5::read_strings(dv, w.sub("values")));
        } else if (enc == "nullable-boolean" && !any_missing) {
            c = Column::boolean(h5::read_bools(dv, w.sub("values")));
        } else if (enc == "nullable-boolean") {
            std::vector<uint8_t> b = h5::read_bools(dv, w.sub("values"));
            c = Column::numeric(std::vector<double>(b.begin(), b.end()), true);
        } else {
            c = Column::numeric(h5::read_doubles(dv, w.sub("values")), true);
        }
        if (mask.size() != c.size())
            h5::fail(w, "mask has " + std::to_string(mask.size()) + " entries but values has " + std::to_string(c.size()));
        for (size_t i = 0; i < mask.size(); ++i)
            if (mask[i]) {
                if (c.kind == Column::Kind::Numeric) c.numbers[i] = NAN;
                if (c.kind == Column::Kind::String) c.strings[i].clear();
            }
        return c;
    }
    h5::fail(w, "has encoding-type '" + enc +
                "', expected categorical, nullable-integer, nullable-boolean or nullable-string-array");
}

Column read_column(hid_t loc, const std::string& name, const Where& w) {
    Id obj = h5::open_object(loc, name, Where{w.file, ""});
    std::string enc = h5::read_attr_string_or(obj, "encoding-type", "", w);
    if (h5::is_group(obj)) return read_column_group(obj, enc, w);
    if (h5::attr_exists(obj, "categories"))
        h5::fail(w, "uses the legacy (anndata < 0.8) categorical layout; re-save the file with a current anndata");
    std::vector<int64_t> dims = h5::dataset_dims(obj, w);
    if (dims.size() != 1) h5::fail(w, "is a " + std::to_string(dims.size()) + "-D dataset, expected a 1-D column");
    Id type = h5::dataset_type(obj, w);
    H5T_class_t c = h5::type_class(type, w);
    if (c == H5T_STRING) return Column::string(h5::read_strings(obj, w));
    if (h5::is_bool_type(type)) return Column::boolean(h5::read_bools(obj, w));
    if (c == H5T_INTEGER || c == H5T_FLOAT) return Column::numeric(h5::read_doubles(obj, w), c == H5T_INTEGER);
    h5::fail(w, "has type " + h5::type_description(type) + ", expected strings, numbers, booleans or a categorical");
}

DataFrame read_dataframe(hid_t file, const std::string& key, const std::vector<std::string>& want,
                         const std::string& path) {
    Where w{path, key};
    DataFrame df;
    df.source = path + ": " + key;
    Id g = h5::open_object(file, key, Where{path, ""});
    if (!h5::is_group(g))
        h5::fail(w, "is a dataset (a legacy anndata < 0.7 dataframe?), expected a group with encoding-type 'dataframe'");
    std::string enc = h5::read_attr_string_or(g, "encoding-type", "dataframe", w);
    if (enc != "dataframe") h5::fail(w, "has encoding-type '" + enc + "', expected dataframe");
    df.index_name = h5::read_attr_string(g, "_index", w);
    Column idx = read_column(g, df.index_name, w.sub(df.index_name));
    df.index.reserve(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) df.index.push_back(idx.label(i));

    std::vector<std::string> order;
    if (h5::attr_exists(g, "column-order")) {
        order = h5::read_attr_strings(g, "column-order", w);
    } else {
        for (const std::string& m : h5::list_members(g, w))
            if (m != df.index_name) order.push_back(m);
    }
    if (want.size() == 1 && want[0] == kNoColumns) return df;
    for (const std::string& name : want) {
        bool found = name != df.index_name && h5::link_exists(g, name);
        if (!found) h5::fail_file(path, key + " column '" + name + "' not found (available: " + join(order) + ")");
    }
    for (const std::string& name : want.empty() ? order : want) {
        Column c = read_column(g, name, w.sub(name));
        if (c.size() != df.index.size())
            h5::fail(w.sub(name), "has " + std::to_string(c.size()) + " rows, expected " + std::to_string(df.index.size()) +
                                  " (the length of the index)");
        df.add(name, std::move(c));
    }
    return df;
}

// ---------------------------------------------------------------------------- uns

// Scalars and 1-D string arrays, recursing into nested dicts (keys "outer/inner"); other values are skipped.
void read_uns(hid_t g, const std::string& prefix, const Where& w, AnnData& a) {
    for (const std::string& name : h5::list_members(g, w)) {
        Id obj = h5::open_object(g, name, w);
        Where wm = w.sub(name);
        std::string key = prefix + name;
        if (h5::is_group(obj)) {
            std::string enc = h5::read_attr_string_or(obj, "encoding-type", "dict", wm);
            if (enc == "dict") read_uns(obj, key + "/", wm, a);
            continue;
        }
        std::vector<int64_t> dims = h5::dataset_dims(obj, wm);
        Id type = h5::dataset_type(obj, wm);
        H5T_class_t c = h5::type_class(type, wm);
        if (c == H5T_STRING && dims.empty()) a.uns_strings[key] = h5::read_strings(obj, wm).at(0);
        else if (c == H5T_STRING && dims.size() == 1) a.uns_string_arrays[key] = h5::read_strings(obj, wm);
        else if (dims.empty() && h5::is_bool_type(type)) a.uns_numbers[key] = h5::read_bools(obj, wm).at(0);
        else if (dims.empty() && (c == H5T_INTEGER || c == H5T_FLOAT)) a.uns_numbers[key] = h5::read_doubles(obj, wm)[0];
    }
}

}  // namespace

AnnData h5ad_read(const std::string& path, const H5adReadOptions& opt) {
    h5ad_probe(path, opt);  // a crash, hang or runaway allocation inside libhdf5 becomes an error naming the field
    return h5ad_read_unprobed(path, opt);
}

AnnData h5ad_read_unprobed(const std::string& path, const H5adReadOptions& opt) {
    h5::silence_errors();
    Id file = open_file(path);
    AnnData a;
    if (opt.layer.empty()) {
        if (!h5::link_exists(file, "X")) {
            std::string layers = "none";
            if (h5::link_exists(file, "layers")) layers = join(h5::list_members(h5::open_group(file, "layers",
                                                                                          Where{path, ""}),
                                                                             Where{path, "layers"}));
            h5::fail_file(path, "X not found (the file has no X matrix; available layers: " + layers + ")");
        }
        a.matrix = "X";
    } else {
        std::vector<std::string> layers;
        if (h5::link_exists(file, "layers"))
            layers = h5::list_members(h5::open_group(file, "layers", Where{path, ""}), Where{path, "layers"});
        bool found = false;
        for (const std::string& l : layers) found = found || l == opt.layer;
        if (!found) h5::fail_file(path, "layer '" + opt.layer + "' not found (available layers: " + join(layers) + ")");
        a.matrix = "layers/" + opt.layer;
    }
    if (opt.layer.empty()) {
        a.X = read_matrix(file, "X", Where{path, "X"}, opt.X_blocks);
    } else {
        Id layers = h5::open_group(file, "layers", Where{path, ""});
        a.X = read_matrix(layers, opt.layer, Where{path, a.matrix}, opt.X_blocks);
    }
    a.obs = read_dataframe(file, "obs", opt.obs_columns, path);
    a.var = read_dataframe(file, "var", opt.var_columns, path);
    if (a.obs.rows() != a.X.rows)
        h5::fail_file(path, "obs has " + std::to_string(a.obs.rows()) + " rows but " + a.matrix + " has " +
                                std::to_string(a.X.rows) + " rows");
    if (a.var.rows() != a.X.cols)
        h5::fail_file(path, "var has " + std::to_string(a.var.rows()) + " rows but " + a.matrix + " has " +
                                std::to_string(a.X.cols) + " columns");
    if (opt.read_uns && h5::link_exists(file, "uns")) {
        Id uns = h5::open_object(file, "uns", Where{path, ""});
        if (h5::is_group(uns)) read_uns(uns, "", Where{path, "uns"}, a);
    }
    return a;
}

}  // namespace gpo::io
