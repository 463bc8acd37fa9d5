# manpage.awk - turns a program's --help text into a man(7) page, so the page
# is made from the same text as --help at every build and never drifts.
#
#   PROG --help | awk -v name=dnn-train -v version=0.1.0 -f manpage.awk > dnn-train.1
#
# What it reads (the layout every dnn program's --help follows):
#   "Usage: ..." / "usage: ..." and the indented lines below it  -> SYNOPSIS
#   the first paragraph after it (its first sentence is the NAME line) -> DESCRIPTION
#   "  --opt ARG   text" (indented 1-6 spaces; ARG follows --opt after ONE
#   space; the text may follow after one or more) and the lines below it
#   indented 7 or more -> OPTIONS
#   "Heading:" alone on a line -> a subsection of OPTIONS, except
#   "Examples:" (or "example: text") -> EXAMPLES, kept verbatim while indented
#   other indented lines with columns (a run of 2+ blanks inside) -> verbatim
#   a paragraph starting "Exit status:" -> EXIT STATUS; other later paragraphs -> NOTES
function esc(s) {
    gsub(/\\/, "\\e", s)
    gsub(/-/, "\\-", s)
    if (s ~ /^[.']/)
        s = "\\&" s
    return s
}
function endverb() {
    if (inverb) { print ".fi"; inverb = 0 }
}
function section(title) {
    if (title == cur)
        return
    endverb()
    if (inex) { print ".fi"; inex = 0 }
    print ".SH " title
    cur = title
}
function text(s) {
    if (!inpara) { if (cur != "" && started) print ".PP"; inpara = 1 }
    started = 1
    print esc(s)
}
function option(line,    opt, rest, arg) {
    match(line, /^-[^ ]+/)
    opt = substr(line, 1, RLENGTH)
    rest = substr(line, RLENGTH + 1)
    while (opt ~ /,$/ && match(rest, /^ +-[^ ]+/)) { # "-h, --help"
        opt = opt " " substr(rest, RSTART + 1, RLENGTH - 1)
        sub(/^ +/, "", opt)
        rest = substr(rest, RLENGTH + 1)
    }
    arg = ""
    if (match(rest, /^ [^ ]+/)) { # one space: the option's argument
        arg = substr(rest, 2, RLENGTH - 1)
        rest = substr(rest, RLENGTH + 1)
    }
    sub(/^ +/, "", rest)
    print ".TP"
    print "\\fB" esc(opt) "\\fR" (arg != "" ? " \\fI" esc(arg) "\\fR" : "")
    if (rest != "")
        print esc(rest)
    inopt = 1
}
function summary(s) {
    if (match(s, /[.:] /))
        s = substr(s, 1, RSTART - 1)
    sub(/[.:]$/, "", s)
    return s
}
{ lines[NR] = $0 }
END {
    if (NR == 0 || lines[1] !~ /^[Uu]sage: /) {
        print "manpage.awk: " name " --help does not start with a Usage: line" > "/dev/stderr"
        exit 1
    }
    i = 1
    syn[++nsyn] = substr(lines[1], 8)
    while (++i <= NR && lines[i] ~ /^ +[^ ]/) {
        s = lines[i]; sub(/^ +/, "", s); syn[++nsyn] = s
    }
    while (i <= NR && lines[i] ~ /^ *$/) i++
    first = i # description paragraph: until a blank, option, heading or example line
    desc = ""
    for (j = i; j <= NR && lines[j] !~ /^ *$/ && lines[j] !~ /^ +-/ && lines[j] !~ /^[A-Za-z][A-Za-z ]*:( |$)/; j++) {
        s = lines[j]; sub(/^ +/, "", s); desc = desc (desc == "" ? "" : " ") s
    }
    if (desc == "") desc = "a dnn program"
    U = toupper(name)
    print ".\\\" Made by launch/lib/manpage.awk from `" name " --help`; edit the program's help text, not this file."
    print ".TH " U " 1 \"\" \"dnn " version "\" \"dnn manual\""
    print ".nh"
    print ".ad l"
    print ".SH NAME"
    print esc(name) " \\- " esc(summary(desc))
    print ".SH SYNOPSIS"
    print ".nf"
    for (k = 1; k <= nsyn; k++) print esc(syn[k])
    print ".fi"
    cur = ""; inex = 0; inverb = 0; inpara = 0; inopt = 0; haveopts = 0; started = 0
    section("DESCRIPTION")
    for (; i <= NR; i++) {
        l = lines[i]
        if (l ~ /^ *$/) {
            inpara = 0; inopt = 0
            endverb()
            if (inex) pendblank = 1
            continue
        }
        if (inex && l ~ /^ /) {
            if (pendblank) print ""
            pendblank = 0
            s = l; sub(/^  /, "", s); print esc(s)
            continue
        }
        pendblank = 0
        indent = match(l, /^ +/) ? RLENGTH : 0 # (mawk has no {m,n} intervals)
        if (l ~ /^[Ee]xamples?:/) {
            section("EXAMPLES"); print ".nf"; inex = 1
            s = l; sub(/^[Ee]xamples?: */, "", s)
            if (s != "") print esc(s)
            continue
        }
        if (l ~ /^[A-Z][A-Za-z ]*:$/) {
            section("OPTIONS"); haveopts = 1
            endverb()
            if (l != "Options:")
                print ".SS " esc(substr(l, 1, length(l) - 1))
            inpara = 0; inopt = 0
            continue
        }
        if (indent >= 1 && indent <= 6 && l ~ /^ +-/) {
            section("OPTIONS"); haveopts = 1
            endverb()
            s = l; sub(/^ +/, "", s); option(s)
            continue
        }
        s = l; sub(/^ +/, "", s)
        if (inopt && indent >= 7) { print esc(s); continue }
        if (l ~ /^ +[^ ].*[^ ]  +[^ ]/) { # a table or aligned example: keep its columns
            if (!inverb) { print ".nf"; inverb = 1 }
            s = l; sub(/^  /, "", s); print esc(s)
            inopt = 0; started = 1
            continue
        }
        endverb()
        if (!inpara && haveopts)
            section(l ~ /^Exit status:/ ? "\"EXIT STATUS\"" : cur == "\"EXIT STATUS\"" || cur == "EXAMPLES" ? cur : "NOTES")
        if (!inpara && cur == "EXAMPLES" && !inex) section("NOTES")
        inopt = 0
        text(s)
    }
    endverb()
    if (inex) print ".fi"
    print ".SH SEE ALSO"
    print "The README of dnn, and \\fB" esc(name) " \\-\\-help\\fR, from which this page is made."
}
