"""`simk8s check --junit-xml`: one JUnit test case per check, for a CI system to show.

Written with junitparser; a failed check's <failure> names the figure, the limit or
baseline, and the value. A file is replaced only when simk8s wrote it (its test suite
carries the `written_by` property).
"""

from __future__ import annotations

from pathlib import Path

from junitparser import Failure, JUnitXml, Property, TestCase, TestSuite

from simk8s.results.check import CheckRun
from simk8s.results.output import check_output_file, write_file_atomically

WRITTEN_BY = "simk8s check"


def junit_xml(run: CheckRun) -> JUnitXml:
    suite = TestSuite(f"simk8s check {run.file.name}")
    suite.add_property("written_by", WRITTEN_BY)
    suite.add_property("scenario", run.scenario_name)
    for r in run.results:
        case = TestCase(f"{r.variant}: {r.figure}", classname=f"simk8s.{run.scenario_name}.{r.variant}", time=0)
        if not r.ok:
            failure = Failure(r.problem(), "RegressionCheckFailure")
            failure.text = (f"variant: {r.variant}\nfigure: {r.figure}\nvalue: {r.value}\n"
                            f"limit: {r.limit_text()}\n")
            case.result = [failure]
        case.system_out = f"{r.figure} = {r.value} ({r.limit_text()})"
        suite.add_testcase(case)
    suite.update_statistics()
    xml = JUnitXml(f"simk8s check {run.file.name}")
    xml.add_testsuite(suite)
    xml.update_statistics()
    return xml


def written_by_simk8s(path: Path) -> bool:
    try:
        xml = JUnitXml.fromfile(str(path))
    except Exception:  # not XML, or not JUnit
        return False
    suites = xml if isinstance(xml, JUnitXml) else [xml]
    for suite in suites:
        props = suite.properties()
        if props is not None and any(isinstance(p, Property) and p.name == "written_by" and p.value == WRITTEN_BY
                                     for p in props):
            return True
    return False


def check_junit_target(target: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    return check_output_file(target, inputs=inputs, label="--junit-xml", owned=written_by_simk8s)


def write_junit(run: CheckRun, target: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    path = check_junit_target(target, inputs)
    xml = junit_xml(run)
    write_file_atomically(path, lambda tmp: xml.write(str(tmp), pretty=True))
    return path
