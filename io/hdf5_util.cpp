// Checked HDF5 C API helpers for the .h5ad reader and writer (see io/hdf5_util.h). Every HDF5 return value is
// checked; failures throw gpo::Error naming the file, the field and what was expected.
#include "io/hdf5_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "engine/check.h"

namespace gpo::io::h5 {

// HDF5 1.10 closes every open id from an atexit handler; a file whose close failed (a full disk during the
// flush) stays half-closed in its id table and that handler then crashes (SIGSEGV in H5F__close_cb) after the
// engine has already reported the error. H5dont_atexit() turns the handler off; it must run before the library
// initialises, hence a static initialiser here (the process exit releases the files anyway).
static const bool kNoHdf5Atexit = (H5dont_atexit() >= 0);

namespace probe {
static int g_fd = -1;
void set_fd(int fd) { g_fd = fd; }
void note(const Where& w, const std::string& child) {
    if (g_fd < 0) return;
    std::string line = w.field.empty() ? child : child.empty() ? w.field : w.field + (child[0] == '@' ? "" : "/") + child;
    if (line.empty()) line = "/";
    line += "\n";
    ssize_t ignored = ::write(g_fd, line.data(), line.size());
    (void)ignored;
}
}  // namespace probe

void silence_errors() {
    (void)kNoHdf5Atexit;
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

void Id::reset() {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = -1;
}

void fail(const Where& w, const std::string& what) {
    throw Error(w.file + ": " + (w.field.empty() ? std::string() : w.field + ": ") + what);
}

void fail_file(const std::string& file, const std::string& what) { throw Error(file + ": " + what); }

// Checks an id-returning call: returns it owned, or fails with `what`.
static Id checked(hid_t id, const Where& w, const std::string& what) {
    if (id < 0) fail(w, what);
    return Id(id);
}

static void check(herr_t status, const Where& w, const std::string& what) {
    if (status < 0) fail(w, what);
}

// ---------------------------------------------------------------------------- objects

bool link_exists(hid_t loc, const std::string& name) {
    return !name.empty() && H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> list_members(hid_t group, const Where& w) {
    probe::note(w);
    H5G_info_t info;
    check(H5Gget_info(group, &info), w, "cannot list the group's members");
    std::vector<std::string> names;
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
        if (len < 0) fail(w, "cannot read the name of member " + std::to_string(i));
        std::string name((size_t)len + 1, '\0');
        if (H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, &name[0], name.size(), H5P_DEFAULT) < 0)
            fail(w, "cannot read the name of member " + std::to_string(i));
        name.resize((size_t)len);
        names.push_back(name);
    }
    return names;
}

Id open_object(hid_t loc, const std::string& name, const Where& w) {
    probe::note(w, name);
    if (!link_exists(loc, name)) fail(w.sub(name), "not found");
    return checked(H5Oopen(loc, name.c_str(), H5P_DEFAULT), w.sub(name), "cannot open (corrupt or truncated file?)");
}

bool is_group(hid_t obj) { return H5Iget_type(obj) == H5I_GROUP; }
bool is_dataset(hid_t obj) { return H5Iget_type(obj) == H5I_DATASET; }

Id open_group(hid_t loc, const std::string& name, const Where& w) {
    probe::note(w, name);
    Id obj = open_object(loc, name, w);
    if (!is_group(obj)) fail(w.sub(name), "is a dataset, expected a group");
    return obj;
}

Id open_dataset(hid_t loc, const std::string& name, const Where& w) {
    probe::note(w, name);
    Id obj = open_object(loc, name, w);
    if (!is_dataset(obj)) fail(w.sub(name), "is a group, expected a dataset");
    return obj;
}

// ---------------------------------------------------------------------------- datatypes

Id bool_type() {
    Where w{"<memory>", "bool type"};
    Id t = checked(H5Tenum_create(H5T_NATIVE_INT8), w, "H5Tenum_create failed");
    int8_t v = 0;
    check(H5Tenum_insert(t, "FALSE", &v), w, "H5Tenum_insert failed");
    v = 1;
    check(H5Tenum_insert(t, "TRUE", &v), w, "H5Tenum_insert failed");
    return t;
}

Id utf8_vlen_string_type() {
    Where w{"<memory>", "string type"};
    Id t = checked(H5Tcopy(H5T_C_S1), w, "H5Tcopy failed");
    check(H5Tset_size(t, H5T_VARIABLE), w, "H5Tset_size failed");
    check(H5Tset_cset(t, H5T_CSET_UTF8), w, "H5Tset_cset failed");
    return t;
}

bool is_bool_type(hid_t type) {
    if (H5Tget_class(type) != H5T_ENUM || H5Tget_nmembers(type) != 2) return false;
    bool has_false = false, has_true = false;
    for (unsigned i = 0; i < 2; ++i) {
        char* name = H5Tget_member_name(type, i);
        if (!name) return false;
        has_false = has_false || std::strcmp(name, "FALSE") == 0;
        has_true = has_true || std::strcmp(name, "TRUE") == 0;
        H5free_memory(name);
    }
    return has_false && has_true;
}

std::vector<int64_t> dataset_dims(hid_t dset, const Where& w) {
    probe::note(w);
    Id space = checked(H5Dget_space(dset), w, "cannot read the dataspace");
    int nd = H5Sget_simple_extent_ndims(space);
    if (nd < 0) fail(w, "cannot read the dataspace rank");
    std::vector<hsize_t> d((size_t)nd);
    if (nd > 0 && H5Sget_simple_extent_dims(space, d.data(), nullptr) < 0) fail(w, "cannot read the dataspace");
    return std::vector<int64_t>(d.begin(), d.end());
}

Id dataset_type(hid_t dset, const Where& w) { return checked(H5Dget_type(dset), w, "cannot read the datatype"); }

H5T_class_t type_class(hid_t type, const Where& w) {
    H5T_class_t c = H5Tget_class(type);
    if (c == H5T_NO_CLASS) fail(w, "cannot read the datatype class");
    return c;
}

std::string type_description(hid_t type) {
    size_t bits = H5Tget_size(type) * 8;
    switch (H5Tget_class(type)) {
        case H5T_INTEGER: return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
        case H5T_FLOAT: return "float" + std::to_string(bits);
        case H5T_STRING: return "string";
        case H5T_ENUM: return is_bool_type(type) ? "bool" : "enum";
        case H5T_COMPOUND: return "compound";
        case H5T_REFERENCE: return "object reference";
        case H5T_VLEN: return "variable-length sequence";
        case H5T_ARRAY: return "array type";
        default: return "unsupported type";
    }
}

// ---------------------------------------------------------------------------- strings (attributes and datasets)

// Reads n strings stored with file type `ftype` through `read(mem_type, buf)`; `space` is the object's dataspace
// (needed to free variable-length strings).
template <typename ReadFn>
static std::vector<std::string> read_string_values(hid_t ftype, hid_t space, size_t n, const Where& w, ReadFn read) {
    std::vector<std::string> out;
    if (n == 0) return out;
    if (H5Tget_class(ftype) != H5T_STRING) fail(w, "has type " + type_description(ftype) + ", expected strings");
    out.reserve(n);
    if (H5Tis_variable_str(ftype) > 0) {
        Id mem = checked(H5Tcopy(H5T_C_S1), w, "H5Tcopy failed");
        check(H5Tset_size(mem, H5T_VARIABLE), w, "H5Tset_size failed");
        check(H5Tset_cset(mem, H5Tget_cset(ftype)), w, "H5Tset_cset failed");
        std::vector<char*> buf(n, nullptr);
        check(read(mem.get(), buf.data()), w, "cannot read the strings (corrupt or truncated file?)");
        for (char* s : buf) out.push_back(s ? std::string(s) : std::string());
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(mem, space, H5P_DEFAULT, buf.data());
#else
        H5Dvlen_reclaim(mem, space, H5P_DEFAULT, buf.data());
#endif
    } else {
        size_t size = H5Tget_size(ftype);
        if (size == 0) fail(w, "has a zero-size string type");
        Id mem = checked(H5Tcopy(ftype), w, "H5Tcopy failed");
        std::vector<char> buf(n * size);
        check(read(mem.get(), buf.data()), w, "cannot read the strings (corrupt or truncated file?)");
        bool space_pad = H5Tget_strpad(ftype) == H5T_STR_SPACEPAD;
        for (size_t i = 0; i < n; ++i) {
            const char* p = buf.data() + i * size;
            size_t len = 0;
            while (len < size && p[len] != '\0') ++len;
            if (space_pad)
                while (len > 0 && p[len - 1] == ' ') --len;
            out.emplace_back(p, len);
        }
    }
    return out;
}

// ---------------------------------------------------------------------------- attributes

bool attr_exists(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name, const Where& w) {
    probe::note(w, "@" + name);
    Where wa{w.file, w.field + (w.field.empty() ? "" : " ") + "attribute '" + name + "'"};
    if (!attr_exists(obj, name)) fail(wa, "not found");
    Id a = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), wa, "cannot open");
    Id type = checked(H5Aget_type(a), wa, "cannot read the datatype");
    Id space = checked(H5Aget_space(a), wa, "cannot read the dataspace");
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0) fail(wa, "cannot read the dataspace");
    // anndata writes an empty column-order as an empty float64 array: no elements means no strings, any type.
    if (n == 0) return {};
    return read_string_values(type, space, (size_t)n, wa,
                              [&](hid_t mem, void* buf) { return H5Aread(a, mem, buf); });
}

std::string read_attr_string(hid_t obj, const std::string& name, const Where& w) {
    probe::note(w, "@" + name);
    std::vector<std::string> v = read_attr_strings(obj, name, w);
    if (v.size() != 1)
        fail(w, "attribute '" + name + "' has " + std::to_string(v.size()) + " strings, expected one string");
    return v[0];
}

std::string read_attr_string_or(hid_t obj, const std::string& name, const std::string& dflt, const Where& w) {
    probe::note(w, "@" + name);
    return attr_exists(obj, name) ? read_attr_string(obj, name, w) : dflt;
}

std::vector<int64_t> read_attr_ints(hid_t obj, const std::string& name, const Where& w) {
    probe::note(w, "@" + name);
    Where wa{w.file, w.field + (w.field.empty() ? "" : " ") + "attribute '" + name + "'"};
    if (!attr_exists(obj, name)) fail(wa, "not found");
    Id a = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), wa, "cannot open");
    Id type = checked(H5Aget_type(a), wa, "cannot read the datatype");
    Id space = checked(H5Aget_space(a), wa, "cannot read the dataspace");
    if (H5Tget_class(type) != H5T_INTEGER)
        fail(wa, "has type " + type_description(type) + ", expected integers");
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0) fail(wa, "cannot read the dataspace");
    std::vector<int64_t> v((size_t)n);
    if (n > 0) check(H5Aread(a, H5T_NATIVE_INT64, v.data()), wa, "cannot read");
    return v;
}

bool read_attr_bool(hid_t obj, const std::string& name, const Where& w) {
    probe::note(w, "@" + name);
    Where wa{w.file, w.field + (w.field.empty() ? "" : " ") + "attribute '" + name + "'"};
    if (!attr_exists(obj, name)) fail(wa, "not found");
    Id a = checked(H5Aopen(obj, name.c_str(), H5P_DEFAULT), wa, "cannot open");
    Id type = checked(H5Aget_type(a), wa, "cannot read the datatype");
    Id space = checked(H5Aget_space(a), wa, "cannot read the dataspace");
    if (H5Sget_simple_extent_npoints(space) != 1) fail(wa, "expected a single boolean");
    if (is_bool_type(type)) {
        Id bt = bool_type();
        int8_t v = 0;
        check(H5Aread(a, bt, &v), wa, "cannot read");
        return v != 0;
    }
    if (H5Tget_class(type) == H5T_INTEGER) {
        int64_t v = 0;
        check(H5Aread(a, H5T_NATIVE_INT64, &v), wa, "cannot read");
        return v != 0;
    }
    fail(wa, "has type " + type_description(type) + ", expected a boolean");
}

static Id create_attr(hid_t obj, const std::string& name, hid_t type, const std::vector<int64_t>& dims, bool scalar,
                      const Where& wa) {
    std::vector<hsize_t> d(dims.begin(), dims.end());
    Id space = checked(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple((int)d.size(), d.data(), nullptr), wa,
                       "cannot create the dataspace");
    return checked(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), wa, "cannot create");
}

void write_attr_string(hid_t obj, const std::string& name, const std::string& value, const Where& w) {
    Where wa{w.file, w.field + " attribute '" + name + "'"};
    Id type = utf8_vlen_string_type();
    Id a = create_attr(obj, name, type, {}, true, wa);
    const char* p = value.c_str();
    check(H5Awrite(a, type, &p), wa, "cannot write");
}

void write_attr_strings(hid_t obj, const std::string& name, const std::vector<std::string>& values, const Where& w) {
    Where wa{w.file, w.field + " attribute '" + name + "'"};
    Id type = utf8_vlen_string_type();
    Id a = create_attr(obj, name, type, {(int64_t)values.size()}, false, wa);
    std::vector<const char*> ptrs;
    for (const std::string& s : values) ptrs.push_back(s.c_str());
    if (!values.empty()) check(H5Awrite(a, type, ptrs.data()), wa, "cannot write");
}

void write_attr_ints(hid_t obj, const std::string& name, const std::vector<int64_t>& values, const Where& w) {
    Where wa{w.file, w.field + " attribute '" + name + "'"};
    Id a = create_attr(obj, name, H5T_STD_I64LE, {(int64_t)values.size()}, false, wa);
    if (!values.empty()) check(H5Awrite(a, H5T_NATIVE_INT64, values.data()), wa, "cannot write");
}

void write_attr_bool(hid_t obj, const std::string& name, bool value, const Where& w) {
    Where wa{w.file, w.field + " attribute '" + name + "'"};
    Id type = bool_type();
    Id a = create_attr(obj, name, type, {}, true, wa);
    int8_t v = value ? 1 : 0;
    check(H5Awrite(a, type, &v), wa, "cannot write");
}

// ---------------------------------------------------------------------------- dataset reads

void read_1d(hid_t dset, hid_t mem_type, int64_t offset, int64_t count, void* buf, const Where& w) {
    probe::note(w);
    if (count <= 0) return;
    Id fs = checked(H5Dget_space(dset), w, "cannot read the dataspace");
    hsize_t start[1] = {(hsize_t)offset}, cnt[1] = {(hsize_t)count};
    check(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, cnt, nullptr), w,
          "cannot select elements [" + std::to_string(offset) + ", " + std::to_string(offset + count) + ")");
    Id ms = checked(H5Screate_simple(1, cnt, nullptr), w, "cannot create the memory dataspace");
    check(H5Dread(dset, mem_type, ms, fs, H5P_DEFAULT, buf), w,
          "cannot read elements [" + std::to_string(offset) + ", " + std::to_string(offset + count) +
              ") (corrupt or truncated file?)");
}

void read_rows(hid_t dset, hid_t mem_type, int64_t row0, int64_t nrows, int64_t cols, void* buf, const Where& w) {
    probe::note(w);
    if (nrows <= 0 || cols <= 0) return;
    Id fs = checked(H5Dget_space(dset), w, "cannot read the dataspace");
    hsize_t start[2] = {(hsize_t)row0, 0}, cnt[2] = {(hsize_t)nrows, (hsize_t)cols};
    std::string rows = "rows [" + std::to_string(row0) + ", " + std::to_string(row0 + nrows) + ")";
    check(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, cnt, nullptr), w, "cannot select " + rows);
    Id ms = checked(H5Screate_simple(2, cnt, nullptr), w, "cannot create the memory dataspace");
    check(H5Dread(dset, mem_type, ms, fs, H5P_DEFAULT, buf), w,
          "cannot read " + rows + " (corrupt or truncated file?)");
}

static size_t dataset_npoints(hid_t dset, const Where& w) {
    Id space = checked(H5Dget_space(dset), w, "cannot read the dataspace");
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0) fail(w, "cannot read the dataspace");
    return (size_t)n;
}

std::vector<double> read_doubles(hid_t dset, const Where& w) {
    probe::note(w);
    Id type = dataset_type(dset, w);
    H5T_class_t c = type_class(type, w);
    if (c != H5T_INTEGER && c != H5T_FLOAT)
        fail(w, "has type " + type_description(type) + ", expected an integer or float array");
    std::vector<double> v(dataset_npoints(dset, w));
    if (!v.empty())
        check(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), w,
              "cannot read (corrupt or truncated file?)");
    return v;
}

std::vector<int64_t> read_int64s(hid_t dset, const Where& w) {
    probe::note(w);
    Id type = dataset_type(dset, w);
    if (type_class(type, w) != H5T_INTEGER)
        fail(w, "has type " + type_description(type) + ", expected an integer array");
    std::vector<int64_t> v(dataset_npoints(dset, w));
    if (!v.empty())
        check(H5Dread(dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), w,
              "cannot read (corrupt or truncated file?)");
    return v;
}

std::vector<uint8_t> read_bools(hid_t dset, const Where& w) {
    probe::note(w);
    Id type = dataset_type(dset, w);
    if (!is_bool_type(type)) fail(w, "has type " + type_description(type) + ", expected a boolean array");
    std::vector<int8_t> v(dataset_npoints(dset, w));
    Id bt = bool_type();
    if (!v.empty())
        check(H5Dread(dset, bt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), w,
              "cannot read (corrupt or truncated file?)");
    return std::vector<uint8_t>(v.begin(), v.end());
}

std::vector<std::string> read_strings(hid_t dset, const Where& w) {
    probe::note(w);
    Id type = dataset_type(dset, w);
    Id space = checked(H5Dget_space(dset), w, "cannot read the dataspace");
    size_t n = dataset_npoints(dset, w);
    if (n > 0 && H5Tget_class(type) != H5T_STRING)
        fail(w, "has type " + type_description(type) + ", expected strings");
    return read_string_values(type, space, n, w, [&](hid_t mem, void* buf) {
        return H5Dread(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    });
}

// ---------------------------------------------------------------------------- dataset writes

Id write_dataset(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<int64_t>& dims,
                 const void* buf, const Where& w) {
    Where wd = w.sub(name);
    std::vector<hsize_t> d(dims.begin(), dims.end());
    int64_t numel = 1;
    for (int64_t x : dims) numel *= x;
    Id space = checked(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple((int)d.size(), d.data(), nullptr),
                       wd, "cannot create the dataspace");
    Id dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), wd, "cannot create the property list");
    const int64_t big = 1 << 16;  // elements; smaller datasets stay contiguous (chunk overhead is not worth it)
    if (!dims.empty() && dims.size() <= 2 && numel >= big) {
        std::vector<hsize_t> chunk(d);
        if (dims.size() == 1) chunk[0] = (hsize_t)big;
        else chunk[0] = (hsize_t)std::max<int64_t>(1, std::min<int64_t>(dims[0], big / std::max<int64_t>(1, dims[1])));
        if (dims.size() == 2) chunk[1] = (hsize_t)std::min<int64_t>(dims[1], big);
        check(H5Pset_chunk(dcpl, (int)chunk.size(), chunk.data()), wd, "cannot set the chunk shape");
        check(H5Pset_deflate(dcpl, 4), wd, "cannot enable gzip compression");
    }
    if (name.empty()) fail(wd, "empty name");
    Id dset = checked(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), wd,
                      "cannot create the dataset (invalid name or it exists already?)");
    if (numel > 0) check(H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), wd, "cannot write");
    return dset;
}

Id write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values, bool scalar,
                 const Where& w) {
    if (scalar && values.size() != 1) fail(w.sub(name), "a scalar string needs exactly one value");
    Id type = utf8_vlen_string_type();
    std::vector<const char*> ptrs;
    for (const std::string& s : values) ptrs.push_back(s.c_str());
    std::vector<int64_t> dims;
    if (!scalar) dims.push_back((int64_t)values.size());
    return write_dataset(loc, name, type, type, dims, ptrs.data(), w);
}

// ---------------------------------------------------------------------------- appending

Appender::Appender(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, size_t elem_size,
                   const Where& w)
    : mem_type_(mem_type), elem_size_(elem_size), w_(w.sub(name)) {
    if (name.empty()) fail(w_, "empty name");
    chunk_ = (int64_t)((1u << 20) / elem_size);  // 1 MiB chunks
    buf_.resize((size_t)(chunk_ * 16) * elem_size_);
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {(hsize_t)chunk_};
    Id space = checked(H5Screate_simple(1, dims, maxdims), w_, "cannot create the dataspace");
    Id dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), w_, "cannot create the property list");
    check(H5Pset_chunk(dcpl, 1, chunk), w_, "cannot set the chunk shape");
    check(H5Pset_deflate(dcpl, 1), w_, "cannot enable gzip compression");
    dset_ = checked(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), w_,
                    "cannot create the dataset (invalid name or it exists already?)");
}

void Appender::flush() {
    if (buffered_ == 0) return;
    hsize_t newsize[1] = {(hsize_t)(written_ + buffered_)};
    check(H5Dset_extent(dset_, newsize), w_,
          "cannot extend the dataset to " + std::to_string(newsize[0]) + " elements");
    Id fs = checked(H5Dget_space(dset_), w_, "cannot read the dataspace");
    hsize_t start[1] = {(hsize_t)written_}, cnt[1] = {(hsize_t)buffered_};
    check(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, cnt, nullptr), w_, "cannot select the new elements");
    Id ms = checked(H5Screate_simple(1, cnt, nullptr), w_, "cannot create the memory dataspace");
    check(H5Dwrite(dset_, mem_type_, ms, fs, H5P_DEFAULT, buf_.data()), w_,
          "cannot write elements [" + std::to_string(written_) + ", " + std::to_string(written_ + buffered_) + ")");
    written_ += buffered_;
    buffered_ = 0;
}

void Appender::append(const void* values, int64_t n) {
    const char* src = (const char*)values;
    const int64_t cap = (int64_t)(buf_.size() / elem_size_);
    while (n > 0) {
        int64_t take = std::min(n, cap - buffered_);
        std::memcpy(buf_.data() + (size_t)buffered_ * elem_size_, src, (size_t)take * elem_size_);
        buffered_ += take;
        src += (size_t)take * elem_size_;
        n -= take;
        if (buffered_ == cap) flush();  // a whole number of chunks, starting on a chunk boundary
    }
}

Id Appender::finish() {
    flush();
    return std::move(dset_);
}

}  // namespace gpo::io::h5
