"""The rule-based ReAct baseline reads Chinese pages and questions as well as English ones."""

from webagent.agents.baseline import _words, best_span
from webagent.eval.runner import EvalConfig, run_eval

# Evidence as the agent sees it: an infobox row, sentences of other editions, and the answer
# stated with the subject in the middle ("X担任Y大会主席").
EVIDENCE_ZH = """\
2025年东蔚人机交互大会的大会主席是周泽江。
2024年东蔚人机交互大会的程序委员会主席是宋华朗。
2024年东蔚人机交互大会主会的分论坛主席为陆岚。
阔哈尔·弗诺尔担任2024年东蔚人机交互大会大会主席。
"""


def test_chinese_words_are_bigrams_without_question_or_function_words():
    assert _words("2024年东蔚大会的主席是谁？") == {"2024", "年东", "东蔚", "蔚大", "大会", "主席"}
    assert _words("Who was the general chair of LOVARA 2022?") == {"general", "chair", "lovara", "2022"}


def test_chinese_answer_is_the_asked_fact_of_the_asked_edition():
    assert best_span("2024年东蔚人机交互大会的大会主席是谁？", EVIDENCE_ZH) == "阔哈尔·弗诺尔"
    assert best_span("2025年东蔚人机交互大会的大会主席是谁？", EVIDENCE_ZH) == "周泽江"


def test_chinese_values_keep_their_shape():
    # glue words come off ("由…讲授"), Latin codes keep their space, dates stay whole, rooms keep digits
    assert best_span("东芸大学强化学习导论的授课教师是谁？", "东芸大学强化学习导论由罗卓川讲授。") == "罗卓川"
    assert best_span("东芸大学强化学习导论的课程编号是什么？", "关于东芸大学强化学习导论，课程编号：CS 479。") == "CS 479"
    assert best_span("2023年屿蔚计算生物学大会的闭幕日期是什么？",
                     "2023年屿蔚计算生物学大会的闭幕日期为2023年5月16日。") == "2023年5月16日"
    assert best_span("东芸大学自然语言处理项目实训的上课地点是什么？",
                     "东芸大学自然语言处理项目实训的上课地点是枫弘馆377室。") == "枫弘馆377室"


def test_chinese_table_row_is_read_field_by_field():
    row = ("蔚昭理工学院量子计算导论 课程编号：SE 567 开课院系：蔚昭理工学院软件工程系 授课教师：何舟曦 "
           "学分：6学分 选课人数上限：185人 上课地点：璟溪馆221室")
    assert best_span("蔚昭理工学院量子计算导论的选课人数上限是什么？", row) == "185人"
    assert best_span("蔚昭理工学院量子计算导论的授课教师是谁？", row) == "何舟曦"


def test_english_is_read_as_before():
    evidence = "The general chair of LOVARA 2024 is Vevia Sastad.\nThe general chair of LOVARA 2022 is Necor Juragard."
    assert best_span("Who was the general chair of LOVARA 2022?", evidence) == "Necor Juragard"


def test_baseline_answers_chinese_questions_on_the_offline_web(world, world_dir, tmp_path):
    """Per language on synth:webwalker: before Chinese support the baseline scored ~0% on Chinese."""
    cfg = EvalConfig(benchmark="synth:webwalker", split="all", limit=60, runs=1, concurrency=8, world=str(world_dir))
    report = run_eval(cfg, tmp_path / "ev", world=world, progress=False)
    by_lang = report["breakdowns"]["lang"]
    assert by_lang["zh"]["questions"] >= 15
    assert by_lang["zh"]["mean_pass@1"] >= 0.2
