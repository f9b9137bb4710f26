"""The treatment course: one record per patient from the baseline plan through every injection visit to
response (``course.json``, schema ``course.schema.json``), what is due next, and its report.

Typical use::

    from hitit.course import load_course, course_status, course_study
    course = load_course("course.json")
    print(course_status(course).next_visit_date)
    study = course_study(course)          # -> hitit.response.evaluate_study(study)
"""

from hitit.course.record import Course, CourseLesion, Imaging, Visit, load_course, save_course
from hitit.course.response import course_study
from hitit.course.schedule import CourseStatus, course_status

__all__ = [
    "Course",
    "CourseLesion",
    "CourseStatus",
    "Imaging",
    "Visit",
    "course_status",
    "course_study",
    "load_course",
    "save_course",
]
