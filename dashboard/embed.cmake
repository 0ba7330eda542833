# Build-time script (cmake -P): turns the dashboard's files into dashboard_assets_data.cpp.
#   -DMANIFEST=<file setting CG_ASSETS (a list of name|path, the page first) and CG_GZIP>
#   -DOUTPUT=<generated .cpp>  -DSTAGE=<scratch folder>
# For each asset: the served bytes (source maps references dropped, the page's references and the modules' import
# specifiers rewritten to the hashed names), a gzip -9 copy when it is smaller, a strong ETag from the SHA-256 of the
# served bytes, and the name it is served under. The output is rewritten only when it changes, so an unchanged
# dashboard recompiles nothing.
cmake_minimum_required(VERSION 3.25)
include(${MANIFEST})
file(MAKE_DIRECTORY ${STAGE})

# Bytes -> the body of a C++ string literal: \xHH escapes, 64 bytes to a line. Whole-string regexes, not a loop of
# substrings: chart.js is 200 KB and CMake copies strings.
string(REPEAT "." 128 cg_line_of_hex)
function(cg_bytes_literal file out_var)
  file(READ ${file} hex HEX)
  string(REGEX REPLACE "(${cg_line_of_hex})" "\\1\n" hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" hex "${hex}")
  string(REPLACE "\n" "\"\n    \"" hex "${hex}")
  set(${out_var} "    \"${hex}\"" PARENT_SCOPE)
endfunction()

# What each extension is served as.
function(cg_content_type name out_var)
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    message(FATAL_ERROR "dashboard asset ${name}: no content type for its extension (add one to embed.cmake)")
  endif()
  set(${out_var} "${type}" PARENT_SCOPE)
endfunction()

# The dashboard's scripts are ES modules that import one another by relative specifiers (from './dom.js'). The
# browser resolves those against the importing module's URL, so each must name the served, hashed file: a module's
# hash then covers the names of everything it imports, a change to any module renames every module above it up to
# the page, and no browser can pair a new module with a stale cached one. That only works leaves first, the order
# of the asset list: each module's imports are rewritten to names already computed, then it is hashed. A specifier
# left unrewritten means an import of a module listed later (or of one not listed, or a cycle, which no order can
# hash): fail with what to change rather than serve a page whose imports answer 404.
set(cg_import_pattern "(from|import)[ \t\r\n]*[\"'](\\.\\.?/[^\"']*)[\"']")
function(cg_rewrite_imports name text_var)
  set(text "${${text_var}}")
  foreach(module served IN ZIP_LISTS cg_module_names cg_module_served)
    string(REPLACE "from './${module}'" "from './${served}'" text "${text}")
  endforeach()
  string(REGEX MATCHALL "${cg_import_pattern}" imports "${text}")
  foreach(statement IN LISTS imports)
    string(REGEX REPLACE "${cg_import_pattern}" "\\2" specifier "${statement}")
    string(REGEX REPLACE "^\\./" "" target "${specifier}")
    if(NOT target IN_LIST cg_module_served)
      message(FATAL_ERROR
        "dashboard asset ${name} imports '${specifier}', which has no hashed name yet. Write imports as "
        "from './<module>.js' (single quotes, a module of web/), and list that module before ${name} in "
        "dashboard/CMakeLists.txt: modules go leaves first, and imports may not form a cycle.")
    endif()
  endforeach()
  string(REGEX MATCH "import[ \t\r\n]*\\(" dynamic "${text}")
  if(dynamic)
    message(FATAL_ERROR "dashboard asset ${name}: import() is not rewritten to hashed names; use a static import")
  endif()
  set(${text_var} "${text}" PARENT_SCOPE)
endfunction()

set(page "")
set(cg_module_names "")
set(cg_module_served "")
set(entries "")
foreach(entry IN LISTS CG_ASSETS)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 source)
  cg_content_type(${name} type)
  file(READ ${source} text)
  # The chart library ends with a sourceMappingURL; the map is not served, so do not make browsers ask for it.
  string(REGEX REPLACE "\n//# sourceMappingURL=[^\n]*" "" text "${text}")
  if(page STREQUAL "")
    set(page "${name}")
    set(page_text "${text}")
    continue()
  endif()
  if(name MATCHES "\\.js$")
    cg_rewrite_imports(${name} text)
  endif()
  file(WRITE ${STAGE}/${name} "${text}")
  file(SHA256 ${STAGE}/${name} hash)
  string(SUBSTRING "${hash}" 0 12 short)
  string(REGEX REPLACE "^(.*)(\\.[^.]+)$" "\\1.${short}\\2" served "${name}")
  if(name MATCHES "\\.js$")
    list(APPEND cg_module_names "${name}")
    list(APPEND cg_module_served "${served}")
  endif()
  string(FIND "${page_text}" "\"dashboard/${name}\"" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${page} does not reference \"dashboard/${name}\": an embedded asset nobody loads")
  endif()
  string(REPLACE "\"dashboard/${name}\"" "\"dashboard/${served}\"" page_text "${page_text}")
  list(APPEND entries "${served}|${STAGE}/${name}|true")
endforeach()
file(WRITE ${STAGE}/${page} "${page_text}")
list(PREPEND entries "${page}|${STAGE}/${page}|false")

set(body "")
set(table "")
set(index 0)
foreach(entry IN LISTS entries)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 staged)
  list(GET parts 2 immutable)
  cg_content_type(${name} type)
  file(SHA256 ${staged} hash)
  string(SUBSTRING "${hash}" 0 32 etag)
  execute_process(COMMAND ${CG_GZIP} -9 -n -c ${staged} OUTPUT_FILE ${staged}.gz RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "gzip failed on ${staged}")
  endif()
  file(SIZE ${staged} size)
  file(SIZE ${staged}.gz gz_size)
  cg_bytes_literal(${staged} raw)
  string(APPEND body "constexpr char body_${index}[] =\n${raw};\n")
  if(gz_size LESS size)
    cg_bytes_literal(${staged}.gz gz)
    string(APPEND body "constexpr char gzip_${index}[] =\n${gz};\n")
    set(gz_view "std::string_view(gzip_${index}, sizeof gzip_${index} - 1)")
  else()
    set(gz_view "std::string_view()")
  endif()
  string(APPEND table
    "    {\"${name}\", \"${type}\", \"\\\"${etag}\\\"\", \"\\\"${etag}-gzip\\\"\", ${immutable},\n"
    "     std::string_view(body_${index}, sizeof body_${index} - 1), ${gz_view}},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(source "// Generated by dashboard/embed.cmake from dashboard/web and the chart library. Do not edit.
#include \"assets_table.hpp\"

namespace cg::dashboard::detail {
namespace {
${body}}  // namespace

const asset asset_table[] = {
${table}};
const std::size_t asset_count = ${index};

}  // namespace cg::dashboard::detail
")
set(previous "")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} previous)
endif()
if(NOT previous STREQUAL source)
  file(WRITE ${OUTPUT} "${source}")
endif()
