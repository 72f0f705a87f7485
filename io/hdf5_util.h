// Small checked wrappers over the HDF5 C API used by the .h5ad reader and writer: an owning id handle, opening
// objects, reading and writing attributes (variable- or fixed-length strings, integers), string datasets, 1-D/2-D
// hyperslab reads, and appending to a 1-D dataset of unknown length. Every call is checked; failures throw
// gpo::Error("<file>: <field>: <what>").
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gpo::io::h5 {

// Turns HDF5's own error-stack printing off (we report our own messages). Idempotent.
void silence_errors();

// Owns one HDF5 id (file, group, dataset, dataspace, datatype, attribute or property list) and releases it
// with H5Idec_ref. Move-only.
class Id {
public:
    Id() = default;
    explicit Id(hid_t id) : id_(id) {}
    ~Id() { reset(); }
    Id(Id&& o) noexcept : id_(o.id_) { o.id_ = -1; }
    Id& operator=(Id&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = o.id_;
            o.id_ = -1;
        }
        return *this;
    }
    Id(const Id&) = delete;
    Id& operator=(const Id&) = delete;
    hid_t get() const { return id_; }
    operator hid_t() const { return id_; }
    bool valid() const { return id_ >= 0; }
    void reset();
    hid_t release() {
        hid_t i = id_;
        id_ = -1;
        return i;
    }

private:
    hid_t id_ = -1;
};

// Where we are, for error messages: the file name and the field path inside it ("obs/perturbation/codes").
struct Where {
    std::string file;
    std::string field;
    Where sub(const std::string& name) const { return {file, field.empty() ? name : field + "/" + name}; }
};

// Progress notes for the crash-isolating probe (io/h5ad_probe.h): when an fd is set, every read function writes
// the field it is about to touch ("obs/_index", "var/gene@encoding-type") as one line, so a parent process knows
// where the library crashed. Off (fd -1) in normal reads.
namespace probe {
void set_fd(int fd);
void note(const Where& w, const std::string& child = "");
}  // namespace probe

[[noreturn]] void fail(const Where& w, const std::string& what);          // "<file>: <field>: <what>"
[[noreturn]] void fail_file(const std::string& file, const std::string& what);  // "<file>: <what>"

// ---------------------------------------------------------------------------- objects
bool link_exists(hid_t loc, const std::string& name);                     // one path component, no error
std::vector<std::string> list_members(hid_t group, const Where& w);       // member names (creation/name order)
Id open_object(hid_t loc, const std::string& name, const Where& w);       // group or dataset
bool is_group(hid_t obj);
bool is_dataset(hid_t obj);
Id open_group(hid_t loc, const std::string& name, const Where& w);        // error if missing or not a group
Id open_dataset(hid_t loc, const std::string& name, const Where& w);      // error if missing or not a dataset

// ---------------------------------------------------------------------------- attributes
bool attr_exists(hid_t obj, const std::string& name);
std::string read_attr_string(hid_t obj, const std::string& name, const Where& w);        // scalar or 1 element
std::string read_attr_string_or(hid_t obj, const std::string& name, const std::string& dflt, const Where& w);
std::vector<std::string> read_attr_strings(hid_t obj, const std::string& name, const Where& w);  // 0 elems ok
std::vector<int64_t> read_attr_ints(hid_t obj, const std::string& name, const Where& w);
bool read_attr_bool(hid_t obj, const std::string& name, const Where& w);                  // bool enum or integer

void write_attr_string(hid_t obj, const std::string& name, const std::string& value, const Where& w);
void write_attr_strings(hid_t obj, const std::string& name, const std::vector<std::string>& values, const Where& w);
void write_attr_ints(hid_t obj, const std::string& name, const std::vector<int64_t>& values, const Where& w);
void write_attr_bool(hid_t obj, const std::string& name, bool value, const Where& w);

// ---------------------------------------------------------------------------- datatypes and dataspaces
Id bool_type();                                  // numpy/h5py bool: enum of int8 {FALSE = 0, TRUE = 1}
Id utf8_vlen_string_type();                      // variable-length UTF-8 string (h5py's str)
bool is_bool_type(hid_t type);                   // an enum with exactly the members FALSE and TRUE
std::vector<int64_t> dataset_dims(hid_t dset, const Where& w);   // scalar = {}
Id dataset_type(hid_t dset, const Where& w);
H5T_class_t type_class(hid_t type, const Where& w);
std::string type_description(hid_t type);        // "int32", "float64", "string", "enum", ... for messages

// ---------------------------------------------------------------------------- dataset reads
// Reads elements [offset, offset + count) of a 1-D dataset, converted to mem_type, into buf.
void read_1d(hid_t dset, hid_t mem_type, int64_t offset, int64_t count, void* buf, const Where& w);
// Reads rows [row0, row0 + nrows) of a 2-D dataset with `cols` columns, converted to mem_type, into buf.
void read_rows(hid_t dset, hid_t mem_type, int64_t row0, int64_t nrows, int64_t cols, void* buf, const Where& w);
// Whole dataset, converted to the native type (any integer/float class; error otherwise).
std::vector<double> read_doubles(hid_t dset, const Where& w);
std::vector<int64_t> read_int64s(hid_t dset, const Where& w);
std::vector<uint8_t> read_bools(hid_t dset, const Where& w);     // bool enum dataset -> 0/1
std::vector<std::string> read_strings(hid_t dset, const Where& w);  // variable- or fixed-length, any rank

// ---------------------------------------------------------------------------- dataset writes
// Creates a dataset of file_type with the given dims (empty = scalar) and writes buf (mem_type) into it.
// Large datasets are chunked and gzip-compressed.
Id write_dataset(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<int64_t>& dims,
                 const void* buf, const Where& w);
Id write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values, bool scalar,
                 const Where& w);

// A 1-D dataset whose length is not known in advance, written by appending: created empty (chunked, unlimited
// length, gzip level 1 for speed), values are buffered and written a whole number of chunks at a time (no chunk is
// ever rewritten), and finish() writes the rest. mem_type's size must be elem_size bytes.
class Appender {
public:
    Appender(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, size_t elem_size, const Where& w);
    void append(const void* values, int64_t n);
    Id finish();  // writes what is buffered and returns the dataset (e.g. to add attributes)
    int64_t size() const { return written_ + buffered_; }

private:
    void flush();
    Id dset_;
    hid_t mem_type_;
    size_t elem_size_;
    Where w_;
    int64_t chunk_ = 0, written_ = 0, buffered_ = 0;
    std::vector<char> buf_;  // capacity: a whole number of chunks
};

}  // namespace gpo::io::h5
