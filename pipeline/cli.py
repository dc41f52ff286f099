"""The command line: ``python -m pipeline <command>`` (or the ``tuangiao`` script).

Commands: ``catalogue check``, ``template [--unit CODE] [--period KEY]``, ``sample``,
``sample-merged [--period 2025] --out DIR``,
``check FILE [--period P] [--json] [--feedback OUT]``, ``preview``, ``report --period P``, ``rebuild``, ``explain``,
``close-period P``, ``reopen-period P``, ``read FILE``, ``serve``,
``access add|revoke|list|officer-add|log``, ``review list|approve|return|reopen``, ``backup DEST``,
``restore SRC``, ``doctor``.
Messages for people are Vietnamese; bad input never ends in a traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from pipeline.catalogue import CATALOGUE_DIR, load_catalogue
from pipeline.errors import UserError, machine_error, machine_fault
from pipeline.settings import PROJECT_ROOT, Settings

EXIT_INTERNAL_ERROR = 3


def _catalogue_check(args) -> int:
    catalogue = load_catalogue(args.dir)
    items = sum(len(f.input_cells()) for f in catalogue.forms.values())
    print(
        f"Danh mục hợp lệ: {len(catalogue.forms)} biểu, {items} ô nhập, {len(catalogue.targets)} chỉ tiêu, "
        f"{len(catalogue.reporting_units())} đơn vị, {len(catalogue.periods)} kỳ báo cáo; phiên bản mẫu {catalogue.version}."
    )
    for key, form_set in catalogue.form_sets().items():  # the versions side by side, and the periods each serves
        print(f'Bộ biểu "{key}": {len(form_set.forms)} biểu, phiên bản mẫu {form_set.version}; '
              f'kỳ báo cáo: {", ".join(form_set.own_periods()) or "chưa có"}.')
    return 0


def _template(args) -> int:
    from pipeline.text import slug
    from pipeline.catalogue.contract import PLAN_TEMPLATE_NAME, UNIT_TEMPLATE_NAME
    from pipeline.workbook.template import write_plan_workbook, write_unit_workbook

    catalogue = load_catalogue()
    if args.period:  # the template of that period's form set
        if args.period not in catalogue.periods:
            raise UserError(f'Không có kỳ báo cáo "{args.period}" trong danh mục kỳ báo cáo.')
        catalogue = catalogue.for_period(args.period)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.unit:
        unit = catalogue.find_unit(args.unit)
        if unit is None:
            raise UserError(f'Không có đơn vị mã "{args.unit}" trong danh mục đơn vị.')
        path = write_unit_workbook(out / f"mau-bao-cao-{unit.code}-{slug(unit.name)}.xlsx", catalogue, unit)
        print(f"Đã ghi mẫu cho {unit.name}: {path}")
        return 0
    for path in (write_unit_workbook(out / UNIT_TEMPLATE_NAME, catalogue), write_plan_workbook(out / PLAN_TEMPLATE_NAME, catalogue)):
        print(f"Đã ghi mẫu: {path}")
    return 0


def _sample(args) -> int:
    from pipeline.tools.sample import write_sample

    paths = write_sample(Path(args.out), load_catalogue(), args.year)
    print(f"Đã ghi {len(paths)} tệp mẫu vào {args.out}")
    return 0


def _sample_merged(args) -> int:
    from pipeline.tools.sample import write_merged_sample

    paths = write_merged_sample(Path(args.out), load_catalogue(), args.period)
    print(f"Đã ghi {len(paths)} tệp giả lập của các đơn vị kỳ {args.period} vào {args.out}")
    return 0


def _check(args) -> int:
    """Exit 0: accepted (warnings allowed); 1: has errors; 2: not a readable workbook. One
    file's check allocates little, so the cyclic collector is paused meanwhile: its passes
    over the objects that pandas and pandera create on import cost about 60 ms."""
    gc.disable()
    try:
        return _check_one(args)
    finally:
        gc.enable()


def _regular_file(name: str) -> Path:
    """The path of a file a command reads, refused with what it is when it is not a regular file
    (a folder, a pipe or a device is never opened: a pipe would block the read)."""
    from pipeline.text import nfc

    path = Path(name)
    if path.is_file():
        return path
    if not path.exists():
        raise UserError(f'Không tìm thấy tệp "{nfc(path)}".')
    if path.is_dir():
        raise UserError(f'"{nfc(path)}" là một thư mục, không phải tệp báo cáo: hãy chỉ ra một tệp .xlsx.')
    raise UserError(f'"{nfc(path)}" không phải tệp thông thường (ống dẫn hoặc thiết bị): hãy chỉ ra một tệp .xlsx.')


def _check_one(args) -> int:
    from pipeline.text import nfc
    from pipeline.parallel import start_early

    path = _regular_file(args.file)
    catalogue = _settings(args).catalogue
    start_early(catalogue)  # the reader's worker starts while the checks (pandas, pandera) are imported
    from pipeline.checking.validation import check_file

    result = check_file(catalogue, path, args.period)
    report = result.report
    if args.json:
        print(json.dumps({"file": nfc(path.name), **report.as_dict()}, ensure_ascii=False, indent=2))
    else:
        print("\n".join(report.lines(nfc(path.name))))
    if args.feedback or (report.findings and not args.json):
        _feedback(args, catalogue, result)
    if not report.readable:
        return 2
    return 0 if report.accepted else 1


def _feedback(args, catalogue, result) -> None:
    """Write the feedback workbook where --feedback asks; say where intake writes it."""
    from pipeline.checking.feedback import feedback_name, write_feedback
    from pipeline.intake.take_in import feedback_dir

    submission = result.submission
    period = (submission.period if submission and submission.period else args.period) or ""
    if args.feedback:
        written = write_feedback(Path(args.feedback), catalogue, result, period)
        print(f"Đã ghi tệp phản hồi: {written}", file=sys.stderr if args.json else sys.stdout)
    if result.report.findings and not args.json:
        intake = feedback_dir(_settings(args).places.out, period or "<kỳ>") / feedback_name(result)
        print(f"Khi nhận tệp này, quy trình ghi tệp phản hồi tại: {intake}")


def _preview(args) -> int:
    """Every Biểu of the catalogue (or those asked for) and a feedback workbook as PDF and PNG
    pages, and the download page as a phone shows it, to look at. The published set's PDFs
    are used where it has them; the rest is rendered in one LibreOffice start."""
    from pipeline.office import convert_all, pdf_to_png
    from pipeline.publication.workbooks import workbook_name
    from pipeline.web.app import screenshot_pages
    from pipeline.web.site import PREVIEW_FOLDER

    settings = _settings(args)
    folder = Path(args.folder) if args.folder else settings.places.out / args.period
    out = Path(args.out) if args.out else settings.data / PREVIEW_FOLDER / args.period  # never in the served out/
    workbooks = [folder / workbook_name(code, args.period) for code in args.bieu or settings.catalogue.bieu]
    for source in workbooks:
        if not source.exists():
            raise UserError(f'Chưa có tệp "{source}": hãy chạy quy trình tổng hợp (make run) trước.')
    out.mkdir(parents=True, exist_ok=True)
    published = [w.with_suffix(".pdf") for w in workbooks if w.with_suffix(".pdf").is_file()]
    for pdf in published:
        shutil.copyfile(pdf, out / pdf.name)
    with tempfile.TemporaryDirectory() as scratch:
        rendering = [w for w in workbooks if not w.with_suffix(".pdf").is_file()]
        rendering.append(_feedback_example(settings.catalogue, folder, args.period, Path(scratch)))
        pdfs = [out / p.name for p in published] + convert_all(rendering, out, "pdf")
    for pdf in pdfs:
        for png in pdf_to_png(pdf, out):
            print(f"Đã ghi {png}")
    try:
        for png in screenshot_pages(folder.parent.parent, args.period, out):
            print(f"Đã ghi {png}")
    except UserError as e:
        print(str(e), file=sys.stderr)
    return 0


def _feedback_example(catalogue, folder: Path, period: str, scratch: Path) -> Path:
    """A feedback workbook to look at: the period's first one, or, when every unit was valid,
    one written for the sample file of the first commune with a figure that breaks the rules."""
    from pipeline.catalogue import Ref
    from pipeline.checking.feedback import write_feedback
    from pipeline.checking.validation import check_file
    from pipeline.tools.sample import sample_values
    from pipeline.workbook.template import Filling, write_unit_workbook

    written = sorted((folder / "phan-hoi").glob("*.xlsx"))
    if written:
        return written[0]
    unit = catalogue.units_in(period)[0]
    values = sample_values(catalogue)[unit.code]
    values[Ref("01", "HO_NGHEO")] = 10 ** 6  # more poor households than households
    source = write_unit_workbook(scratch / f"{unit.code}.xlsx", catalogue, unit,
                                 Filling({"MA_DON_VI": unit.code, "KY_BAO_CAO": period}, values))
    return write_feedback(scratch / f"phan-hoi-vi-du-{unit.code}-{period}.xlsx", catalogue,
                          check_file(catalogue, source, period), period)


def _report(args) -> int:
    """The evaluation report's draft, published with the Biểu (the whole set switched in one
    step), and as PDF where LibreOffice is installed."""
    from pipeline.periods import MARKER, final_folder, is_closed
    from pipeline.publication.publish import publish_period
    from pipeline.office import OfficeError, convert
    from pipeline.web.site import PREVIEW_FOLDER

    settings = _settings(args)
    catalogue, places = settings.catalogue, settings.places
    if args.period not in catalogue.periods:
        raise UserError(f'Không có kỳ báo cáo "{args.period}" (có: {", ".join(catalogue.periods)}).')
    shipped_year = args.history and not (final_folder(places.out, args.period) / MARKER).exists()
    if is_closed(catalogue, places.out, args.period) and not shipped_year:
        raise UserError(f"Kỳ {args.period} đã khóa sổ: dự thảo báo cáo nằm trong bộ chính thức ở "
                        f"{places.out / args.period / 'chinh-thuc'}.")
    _, publication = publish_period(catalogue, places.warehouse, places.out, args.period, level=settings.batch_level,
                                    today=settings.now().date(), office=settings.office,
                                    wait_seconds=settings.wait_seconds)
    print(f"Đã ghi dự thảo báo cáo: {publication.report}")
    if publication.pdf_note:
        print(publication.pdf_note, file=sys.stderr)
    try:
        pdf = convert(publication.report, places.data / PREVIEW_FOLDER / args.period, "pdf")  # officers only
        print(f"Đã ghi bản PDF để xem: {pdf}")
    except OfficeError as e:
        print(f"Không ghi bản PDF: {e}", file=sys.stderr)
    return 0


def _settings(args) -> Settings:
    """The shared settings (TUANGIAO_* variables), with --data if given."""
    return Settings.from_environment(data_dir=getattr(args, "data", None))


def _rebuild(args) -> int:
    from pipeline.intake.take_in import rebuild
    from pipeline.publication.consolidation import consolidate

    settings = _settings(args)
    catalogue, places = settings.catalogue, settings.places
    results = rebuild(catalogue, places)
    print(f"Đã dựng lại kho dữ liệu {places.warehouse} từ {len(results)} tệp trong {places.archive}.")
    for period in catalogue.periods:
        result = consolidate(catalogue, places.warehouse, period, settings.wait_seconds)
        print(f"Kỳ {period}: {len(result.loaded_units)} đơn vị hợp lệ, thiếu {len(result.missing_units)}.")
    return 0


def _explain(args) -> int:
    from pipeline.text import show_number
    from pipeline.publication.provenance import explain
    from pipeline.warehouse import connect, create_schema

    settings = _settings(args)
    catalogue, places = settings.catalogue, settings.places
    with connect(places.warehouse, wait_seconds=settings.wait_seconds) as conn:
        create_schema(conn)
        explanation = explain(conn, catalogue, args.period, args.bieu, args.row, args.col, args.onto, args.unit)
    print(f"{explanation.title} – kỳ {args.period}")
    if explanation.restated:  # the old units behind the new one, and what the value covers
        print("Đơn vị cũ:")
        for line in explanation.lineage:
            print(f"  {line}")
        if explanation.coverage:
            print(f"Phạm vi: {explanation.coverage}")
    for part in explanation.parts:
        print(f"{part.label}:")
        for c in part.contributions:
            sign = "−" if c.sign < 0 else "+"
            print(f'  {sign} {show_number(c.value):>14}  {c.unit} {c.unit_name} · {c.ref} · tệp "{c.file_name}", '
                  f'sheet "{c.sheet}", ô {c.cell}')
        print(f"  = {show_number(part.total)}")
    if not explanation.is_rate and len(explanation.parts) > 1:  # a phase's years
        print(f"Tổng cả giai đoạn = {show_number(explanation.value)}")
    if explanation.is_rate:
        value = explanation.value
        print(f"Tỷ lệ = 100 × tử số / mẫu số = {'–' if value is None else show_number(value.quantize(Decimal('0.001')))} %")
    return 0


def _phase(args) -> int:
    """A phase summary (2021-2025): first, with --history, the shipped years of its closed
    periods taken in from that inbox as when they were open; then its Biểu published."""
    from dataclasses import replace

    from pipeline.publication.phase import phase_period, publish_phase
    from pipeline.publication.phase_summary import phase_sentences
    from pipeline.states import Verdict

    settings = _settings(args)
    catalogue = settings.catalogue
    period = phase_period(catalogue, args.period)
    if args.history:
        from pipeline.tools.sample import take_in_history

        places = replace(settings.places, inbox=Path(args.history))
        years = [y for y in period.years if y in catalogue.periods and not catalogue.periods[y].is_open
                 and (places.inbox / y).is_dir()]
        for year, (*units, plan) in take_in_history(catalogue, places, years).items():
            valid = sum(r.status == Verdict.VALID for r in units)
            planned = "có kế hoạch năm" if plan.status == Verdict.VALID else "chưa có kế hoạch năm hợp lệ"
            print(f"Kỳ {year}: {valid}/{len(units)} đơn vị hợp lệ, {planned} (từ {places.inbox / year}).")
    reports, publication = publish_phase(catalogue, settings.places.warehouse, settings.places.out, args.period,
                                         office=settings.office, wait_seconds=settings.wait_seconds)
    print(reports[0].summary)
    print(f"Đã ghi {len(publication.files)} biểu của {period.label} vào {publication.folder}.")
    print("Tóm tắt cho dự thảo báo cáo tổng kết:")
    for sentence in phase_sentences(catalogue, reports[0]):
        print(f"  {sentence}")
    if publication.pdf_note:
        print(publication.pdf_note, file=sys.stderr)
    return 0


def _close_period(args) -> int:
    from pipeline.publication.closing import close_period

    settings = _settings(args)
    folder = close_period(settings.catalogue, settings.places, args.period, settings.now(), args.override or "",
                          args.by or "")
    print(f"Đã khóa sổ kỳ {args.period}: bộ biểu CHÍNH THỨC ở {folder}. Kỳ này không nhận thêm báo cáo.")
    return 0


def _reopen_period(args) -> int:
    from pipeline.publication.closing import reopen_period

    settings = _settings(args)
    kept = reopen_period(settings.catalogue, settings.places, args.period, settings.now())
    print(f"Đã mở lại kỳ {args.period}; bộ biểu chính thức trước đó được giữ ở {kept}.")
    return 0


def _review(args) -> int:
    """List the period's reviews, or approve, return or reopen units as an officer (the page's rules,
    ``pipeline.review.decide``): exit 1 with the reason when a decision is refused."""
    from pipeline.intake.take_in import decide_and_tell
    from pipeline.review import OFFICER, Action, Actor, ReviewRefused, review_list

    settings = _settings(args)
    catalogue, places = settings.catalogue, settings.places
    try:
        if args.action == "list":
            reviews = review_list(catalogue, places, args.period)
            if args.json:
                print(json.dumps([r.as_dict() for r in reviews], ensure_ascii=False, indent=2))
            for r in reviews if not args.json else []:
                last = f"  ({r.last.summary})" if r.last else ""
                print(f"{r.unit:<8} {r.name:<28} {r.state.label:<14} {r.file_name or '–'}{last}")
            return 0
        if not args.units or (args.action != "approve" and len(args.units) != 1):
            raise ReviewRefused("Hãy cho biết mã đơn vị (approve: một hoặc nhiều; return, reopen: một).")
        action = Action(args.action)
        outcomes = decide_and_tell(catalogue, places, args.period, args.units, action, Actor(args.by or "", OFFICER),
                          settings.now(), args.comment or "")
    except ReviewRefused as e:
        print(str(e), file=sys.stderr)
        return 1
    for outcome in outcomes:
        if outcome.decision:
            print(f"{outcome.unit}: {outcome.decision.summary} ({outcome.decision.file_name})")
        else:
            print(f"{outcome.unit}: {outcome.refusal}", file=sys.stderr)
    if action == Action.REOPEN and outcomes[0].decision:  # the file held meanwhile is taken in now
        from pipeline.intake.take_in import take_in_unit

        taken = take_in_unit(catalogue, places, args.period, args.units[0], settings.now())
        print(f"{args.units[0]}: tiếp nhận lại tệp mới nhất – {taken.status_label}")
    return 0 if all(o.decision for o in outcomes) else 1


def _serve(args) -> int:
    import uvicorn

    from pipeline.web.app import create_app
    from pipeline.web.server import server_config

    settings = _settings(args)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"CẢNH BÁO: trang mở thẳng cho mạng ({args.host}:{args.port}) không qua HTTPS: mã truy cập và phiên "
              "đăng nhập đi trên mạng không mã hoá. Hãy để trang ở 127.0.0.1 sau một máy chủ HTTPS (Caddy), "
              "xem README.", file=sys.stderr)
    print(f"Trang báo cáo: http://{args.host}:{args.port}/  (Ctrl-C để dừng)")
    # X-Forwarded-Proto/For are believed only from the configured reverse proxy.
    uvicorn.Server(server_config(create_app(settings.data, settings=settings), settings, args.host, args.port,
                                 log_level="warning", proxy_headers=True,
                                 forwarded_allow_ips=settings.trusted_proxy)).run()
    return 0


def _access(args) -> int:
    """Issue, revoke and list the page's accounts; read the audit log."""
    from pipeline.web.access import OFFICER, UNIT, AccessStore, Audit, role_name

    settings = _settings(args)
    store, audit, now = AccessStore(settings.data), Audit(settings.data, settings.audit_rotation), settings.now()
    if args.action in ("add", "officer-add"):
        if not args.login:
            raise UserError("Hãy cho biết mã đơn vị (access add 03259) hoặc tên cán bộ (access officer-add ten).")
        if args.action == "add":
            unit = settings.catalogue.find_unit(args.login)
            if unit is None:
                raise UserError(f'Không có đơn vị mã "{args.login}" trong danh mục đơn vị.')
            role, who = UNIT, f"{unit.name} ({unit.code})"
        else:
            if settings.catalogue.find_unit(args.login) is not None:
                raise UserError(f'"{args.login}" là mã một đơn vị: hãy đặt tên khác cho tài khoản cán bộ.')
            role, who = OFFICER, f"cán bộ {args.login}"
        code = store.issue(args.login, role, now)
        audit.record("access_issued", now, account=args.login, role=role, by="dòng lệnh")
        print(f"Mã truy cập của {who}: {code}\nGửi mã này riêng cho người dùng (gọi điện hoặc tin nhắn); mã chỉ "
              "hiện một lần, huyện không lưu được mã gốc. Mã cũ (nếu có) thôi dùng được.")
    elif args.action == "revoke":
        store.revoke(args.login or "", now)
        audit.record("access_revoked", now, account=args.login, by="dòng lệnh")
        print(f"Đã thu hồi quyền truy cập của {args.login}; các phiên đang đăng nhập của tài khoản này đã hết hiệu lực.")
    elif args.action == "list":
        accounts = store.accounts()
        if not accounts:
            print("Chưa cấp quyền truy cập cho ai.")
        for a in accounts:
            state = f"đã thu hồi {a.revoked_at}" if a.revoked_at else "đang dùng"
            print(f"{a.login:<16} {role_name(a.role):<14} cấp lúc {a.issued_at}  {state}")
    else:
        for entry in reversed(audit.lines(args.last)):
            print(json.dumps(entry, ensure_ascii=False))
    return 0


def _backup(args) -> int:
    from pipeline.operations.backup import backup
    from pipeline.text import show_number

    settings = _settings(args)
    made = backup(settings.places, Path(args.dest), settings.now(), args.keep)
    print(f"Đã sao lưu {made.files} tệp ({show_number(made.size / 1e6, 1)} MB) vào {made.folder}.")
    for folder in made.removed:
        print(f"Đã xoá bản sao lưu cũ {folder}.")
    return 0


def _restore(args) -> int:
    from pipeline.operations.backup import restore

    settings = _settings(args)
    count = restore(Path(args.source), settings.data)
    print(f"Đã khôi phục {count} tệp vào {settings.data}. Tiếp theo: python -m pipeline rebuild --data {settings.data} "
          "để dựng lại kho dữ liệu từ thư mục lưu trữ.")
    return 0


def _doctor(args) -> int:
    """Exit 0 when nothing needs the administrator, 1 otherwise."""
    from pipeline.operations.doctor import DAEMON, checks, screen

    found = checks(_settings(args)) + [DAEMON]
    print(screen(found))
    return 1 if any(c.fine is False for c in found) else 0


def _read(args) -> int:
    """The values as the workbook holds them (925, not 925.0), read in a reader worker process."""
    from pipeline.checking.validation import check_file
    from pipeline.workbook.reader import TIDY_COLUMNS

    path = _regular_file(args.file)
    result = check_file(_settings(args).catalogue, path)
    if result.submission is None:
        raise UserError("\n".join(f.message for f in result.findings))
    rows = result.submission.tidy_rows()
    columns = [list(map(_shown, column)) for column in zip(*rows)] if rows else [[] for _ in TIDY_COLUMNS]
    widths = [max([len(name), *map(len, column)]) for name, column in zip(TIDY_COLUMNS, columns)]
    print("  ".join(name.rjust(width) for name, width in zip(TIDY_COLUMNS, widths)))
    for row in zip(*columns):
        print("  ".join(text.rjust(width) for text, width in zip(row, widths)))
    return 0


def _shown(value: object) -> str:
    return "" if value is None else str(value)


def run() -> None:
    """The process entry (``python -m pipeline``, the ``tuangiao`` command): ``main``, then exit
    without the collector's last passes over every object still alive (pandas and pandera
    leave a great many): about 0,2 s of a one-file check. Objects are still finalised by
    reference counting, and atexit handlers run."""
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description="Báo cáo giảm nghèo bền vững huyện Tuần Giáo")
    commands = parser.add_subparsers(dest="command", required=True)

    catalogue = commands.add_parser("catalogue", help="kiểm tra danh mục biểu mẫu")
    catalogue.add_argument("action", choices=["check"])
    catalogue.add_argument("--dir", default=str(CATALOGUE_DIR), help="thư mục danh mục (mặc định: của dự án)")
    catalogue.set_defaults(run=_catalogue_check)

    template = commands.add_parser("template", help="ghi mẫu báo cáo đơn vị và mẫu kế hoạch huyện")
    template.add_argument("--unit", help="mã đơn vị: ghi bản mẫu đã điền sẵn mã và tên đơn vị")
    template.add_argument("--out", default=str(PROJECT_ROOT / "templates_xlsx"), help="thư mục ghi")
    template.add_argument("--period", help="kỳ báo cáo: ghi mẫu theo bộ biểu áp dụng cho kỳ đó")
    template.set_defaults(run=_template)

    sample = commands.add_parser("sample", help="ghi bộ báo cáo mẫu năm 2023")
    sample.add_argument("--out", default=str(PROJECT_ROOT / "data" / "sample" / "2023"))
    sample.add_argument("--year", default="2023", help="năm của bộ mẫu (2021, 2022, 2024: số liệu giả lập)")
    sample.set_defaults(run=_sample)
    merged = commands.add_parser("sample-merged", help="ghi bộ báo cáo giả lập của các xã mới (sau 01/07/2025) từ mẫu 2023")
    merged.add_argument("--period", default="2025")
    merged.add_argument("--out", required=True)
    merged.set_defaults(run=_sample_merged)

    check = commands.add_parser("check", help="kiểm tra một tệp báo cáo, in các lỗi và cảnh báo")
    check.add_argument("file")
    check.add_argument("--period", help="kỳ báo cáo mà tệp phải thuộc về, ví dụ 2023")
    check.add_argument("--json", action="store_true", help="in các phát hiện dạng JSON")
    check.add_argument("--feedback", metavar="OUT", help="ghi tệp phản hồi (.xlsx, in được) vào OUT")
    check.set_defaults(run=_check)

    preview = commands.add_parser("preview", help="chuyển Biểu sang PDF và ảnh PNG để xem")
    preview.add_argument("--period", default="2023")
    preview.add_argument("--bieu", nargs="+", help="các biểu cần xem, mặc định mọi biểu")
    preview.add_argument("--folder", help="thư mục chứa các biểu, mặc định data/out/<kỳ>")
    preview.add_argument("--out", help="thư mục ghi ảnh, mặc định data/xem-truoc/<kỳ>")
    preview.set_defaults(run=_preview)

    data_help = "thư mục dữ liệu (kho, lưu trữ, kết quả), mặc định TUANGIAO_DATA_DIR hoặc data/"
    report = commands.add_parser("report", help="ghi dự thảo báo cáo đánh giá (.docx) cùng bộ biểu của kỳ")
    report.add_argument("--period", default="2023")
    report.add_argument("--data", help=data_help)
    report.add_argument("--history", action="store_true", help="kỳ đã đóng trong danh mục mà chưa khóa sổ (năm "
                                                               "của bộ mẫu, nhận vào bằng phase --history): vẫn ghi bộ biểu")
    report.set_defaults(run=_report)

    phase = commands.add_parser("phase", help="ghi các biểu tổng kết giai đoạn (ví dụ 2021-2025) từ các năm trong kho")
    phase.add_argument("--period", default="2021-2025")
    phase.add_argument("--history", help="hộp thư có các năm đã khóa sổ của giai đoạn (bộ mẫu data/sample): nhận "
                                         "vào kho trước, như khi các năm đó còn mở")
    phase.add_argument("--data", help=data_help)
    phase.set_defaults(run=_phase)

    rebuild = commands.add_parser("rebuild", help="dựng lại kho dữ liệu DuckDB chỉ từ thư mục lưu trữ")
    rebuild.add_argument("--data", help=data_help)
    rebuild.set_defaults(run=_rebuild)

    explain = commands.add_parser("explain", help="giải thích một số liệu đã công bố: từng đơn vị, tệp, sheet, ô")
    explain.add_argument("--period", default="2023")
    explain.add_argument("--bieu", required=True, help="số biểu, ví dụ 02")
    explain.add_argument("--row", required=True, help="dòng: mã chỉ tiêu (T04), dự án/tiểu dự án (DA4.TDA1), đơn vị, hoặc TONG")
    explain.add_argument("--col", help="cột: mã cột vốn (GN_SN, TONG, TL…) hoặc mã chỉ tiêu của biểu")
    explain.add_argument("--onto", help="tính lại số liệu của kỳ --period theo đơn vị của kỳ này (ví dụ 2025)")
    explain.add_argument("--unit", help="với --onto: mã đơn vị của kỳ đó (dòng chỉ tiêu, dòng dự án)")
    explain.add_argument("--data", help=data_help)
    explain.set_defaults(run=_explain)

    close = commands.add_parser("close-period", help="khóa sổ một kỳ: ghi bộ biểu CHÍNH THỨC, không nhận thêm báo cáo")
    close.add_argument("period")
    close.add_argument("--override", help="lý do khóa sổ khi còn đơn vị chưa được duyệt (in trong phụ lục nguồn số liệu)")
    close.add_argument("--by", help="tên cán bộ quyết định khóa sổ khi chưa duyệt đủ")
    close.add_argument("--data", help=data_help)
    close.set_defaults(run=_close_period)

    reopen = commands.add_parser("reopen-period", help="mở lại một kỳ đã khóa sổ")
    reopen.add_argument("period")
    reopen.add_argument("--data", help=data_help)
    reopen.set_defaults(run=_reopen_period)

    access = commands.add_parser("access", help="cấp, thu hồi, liệt kê quyền vào trang; xem nhật ký truy cập")
    access.add_argument("action", choices=["add", "revoke", "list", "officer-add", "log"],
                        help="add MÃ_ĐƠN_VỊ · officer-add TÊN · revoke TÊN · list · log")
    access.add_argument("login", nargs="?", help="mã đơn vị hoặc tên tài khoản cán bộ")
    access.add_argument("--last", type=int, default=200, help="log: số dòng mới nhất (mặc định 200)")
    access.add_argument("--data", help=data_help)
    access.set_defaults(run=_access)

    review = commands.add_parser("review", help="xét duyệt báo cáo đơn vị: liệt kê, duyệt, trả lại kèm ý kiến, mở lại")
    review.add_argument("action", choices=["list", "approve", "return", "reopen"])
    review.add_argument("period", help="kỳ báo cáo, ví dụ 2023")
    review.add_argument("units", nargs="*", help="mã đơn vị (approve: một hoặc nhiều; return, reopen: một)")
    review.add_argument("--comment", help="ý kiến của cán bộ (bắt buộc khi trả lại; lý do khi mở lại)")
    review.add_argument("--by", help="tên cán bộ quyết định (bắt buộc khi duyệt hoặc trả lại)")
    review.add_argument("--json", action="store_true", help="list: in dạng JSON")
    review.add_argument("--data", help=data_help)
    review.set_defaults(run=_review)

    serve = commands.add_parser("serve", help="mở trang báo cáo: tải biểu, đơn vị nộp báo cáo")
    serve.add_argument("--host", default="127.0.0.1", help="mặc định 127.0.0.1 (chỉ máy này); 0.0.0.0 cho mạng cơ quan")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--data", help=data_help)
    serve.set_defaults(run=_serve)

    backup_parser = commands.add_parser("backup", help="sao lưu những gì không tính lại được vào DEST/tuangiao-<giờ>/")
    backup_parser.add_argument("dest", help="thư mục chứa các bản sao lưu (tốt nhất trên một ổ khác)")
    backup_parser.add_argument("--keep", type=int, default=0,
                               help="giữ bấy nhiêu bản sao lưu mới nhất trong DEST, xoá các bản cũ hơn (mặc định: giữ hết)")
    backup_parser.add_argument("--data", help=data_help)
    backup_parser.set_defaults(run=_backup)

    restore_parser = commands.add_parser("restore", help="khôi phục một bản sao lưu vào một thư mục dữ liệu trống")
    restore_parser.add_argument("source", help="thư mục của bản sao lưu (DEST/tuangiao-<giờ>)")
    restore_parser.add_argument("--data", help=data_help)
    restore_parser.set_defaults(run=_restore)

    doctor = commands.add_parser("doctor", help="kiểm tra máy: dung lượng ổ, lần tổng hợp gần nhất, LibreOffice, phông chữ")
    doctor.add_argument("--data", help=data_help)
    doctor.set_defaults(run=_doctor)

    read = commands.add_parser("read", help="đọc một tệp báo cáo, in các giá trị đọc được")
    read.add_argument("file")
    read.set_defaults(run=_read)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except UserError as e:
        print(str(e), file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (``| head``): nothing more to say
        sys.stdout = None  # no flush at exit onto the closed pipe
        return 0
    except Exception as e:
        fault = machine_fault(e)
        if fault is not None:  # a machine fault met outside the pipeline's own writers
            print(machine_error(fault), file=sys.stderr)
            return 2
        # a bug, never a verdict: exit 3, in Vietnamese, without a traceback
        print(f"Lỗi của chương trình (không phải của tệp) khi chạy lệnh {args.command}: {type(e).__name__}. "
              "Hãy báo cho người quản trị hệ thống.", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
