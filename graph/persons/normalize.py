"""Normalisation of person mentions: one suspect behind many spellings.

A report may write the same person as ``张伟``, ``张 伟``, ``張偉``, ``张玮``,
``Zhang Wei``, ``ZHANG Wei``, ``zhangwei`` or ``Wei Zhang``, the phone as
``+86 138-1234-5678`` or ``0086 138 1234 5678``, and the resident ID full,
masked (``330102********123X``), with a wrong check digit or not at all.
:func:`normalize_person` folds all of that into a :class:`NormalizedPerson`:

* **Han names**: NFKC, whitespace and separators removed, traditional
  characters folded to simplified (:data:`T2S`: the traditional forms of the
  common surnames, the frequent given-name characters and a few hundred common
  words - about 740 characters; anything else is left as written, and its
  pinyin still matches because pypinyin knows traditional characters), the
  surname split off (compound surnames such as 欧阳, 司马, 诸葛, 上官 first).
* **Latin names**: lower-cased, split into tokens and each token into pinyin
  syllables (``zhangwei`` -> ``zhang wei``); which token is the surname is
  decided from the frequency of Chinese surnames (:data:`SURNAME_SHARE`), the
  written order (Chinese order first) and upper-case writing (``ZHANG Wei``).
* **Pinyin**: toneless syllables in surname-given order (pypinyin for Han, with
  the surname readings of polyphonic surnames: 曾 zeng, 单 shan, 区 ou, ...),
  and a homophone-aware :func:`pinyin_key` that folds the initials and finals
  people commonly confuse (zh/z, ch/c, sh/s, n/l, -ng/-n, ü/u), so 张玮 and
  张伟, 王芳 and 汪芳 share it.
* **Identifiers** through :mod:`graph.persons.identity`; **dates** and
  **gender** checked against the ID.

Bad person data never raises: it is flagged (:data:`FLAGS`) and kept.

Example
-------
>>> from ingest.models import PersonMention
>>> p = normalize_person(PersonMention(role="suspect", name="ZHANG Wei", phone="0086 138 1234 5678"))
>>> p.surname, p.given, p.pinyin, p.pinyin_key, p.phone
('zhang', 'wei', ('zhang', 'wei'), 'zan wei', '13812345678')
>>> normalize_person(PersonMention(role="suspect", name="張 偉")).name_han
'张伟'
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pypinyin import lazy_pinyin

from .identity import IdInfo, parse_phone, parse_resident_id

__all__ = [
    "COMPOUND_SURNAMES",
    "FLAGS",
    "GIVEN_SHARE",
    "PINYIN_SYLLABLES",
    "SURNAME_SHARE",
    "T2S",
    "NameParts",
    "NormalizedPerson",
    "fold_syllable",
    "fold_traditional",
    "normalize_name",
    "normalize_person",
    "pinyin_key",
    "split_pinyin",
]

log = logging.getLogger(__name__)

#: Every flag :func:`normalize_person` may set, with its meaning.
FLAGS: dict[str, str] = {
    "empty_name": "no usable name (blank, only punctuation, or 不详/未知/unknown)",
    "name_placeholder": "surname plus 某 (张某, 李某某): the given name is withheld",
    "name_annotated": "a bracketed note was removed from the name (张伟(音))",
    "name_has_digits": "digits were removed from the name",
    "name_mixed_script": "Han and Latin letters mixed; the Han part was used",
    "name_nonpinyin": "a Latin token is not pinyin; kept as one unit",
    "name_rare_char": "a Han character pypinyin does not know",
    "name_truncated": "longer than the encoded width",
    "absurd_dob": "birth date before 1900, in the future, or a suspect younger than 10",
    "dob_unparseable": "the birth date could not be read",
    "gender_unparseable": "the gender could not be read",
    "id_bad_check": "complete ID whose GB 11643 check character does not fit",
    "id_bad_date": "complete ID whose birth-date digits are not a real date",
    "id_partial": "ID with masked (*) characters",
    "id_malformed": "not a resident ID after normalisation (e.g. 17 digits)",
    "id_legacy15": "15-digit first-generation ID, upgraded to 18",
    "id_dob_mismatch": "the mention's birth date differs from the ID's",
    "id_gender_mismatch": "the mention's gender differs from the ID's",
    "phone_unparseable": "no 11-digit mobile number in the phone text",
}

# --------------------------------------------------------------------------- tables

# Traditional -> simplified, one "TS" pair per token.
_T2S_PAIRS = """
張张 陳陈 劉刘 黃黄 趙赵 吳吴 鄭郑 楊杨 孫孙 馬马 許许 羅罗 謝谢 韓韩 馮冯 鄧邓 蕭萧 葉叶 蘇苏 呂吕 盧卢 鍾钟 鐘钟 譚谭 陸陆 賈贾 韋韦 鄒邹
閻阎 閆闫 龍龙 賀贺 顧顾 龔龚 萬万 錢钱 嚴严 湯汤 蔣蒋 餘余 範范 鄔邬 閔闵 邊边 龐庞 齊齐 喬乔 賴赖 鄺邝 歐欧 諸诸 東东 單单 塗涂 聶聂 鮑鲍
關关 溫温 駱骆 紀纪 莊庄 應应 樓楼 華华 項项 練练 藍蓝 顏颜 魯鲁 衛卫 貝贝 車车 儲储 寧宁 饒饶 費费 談谈 厲厉 黨党 畢毕 聞闻 鞏巩 貢贡 欒栾
闞阚 曠旷 簡简 竇窦 計计 滿满 麥麦 郟郏 隨随 連连 遲迟 榮荣 寶宝 廣广 豐丰 蘭兰 鐵铁 縱纵 禮礼 壽寿 繆缪 鄖郧 錫锡 萇苌 蕢蒉 陽阳 鄲郸 軒轩
轅辕 長长 門门 歸归 勞劳 舊旧 偉伟 國国 軍军 紅红 麗丽 強强 傑杰 濤涛 輝辉 鵬鹏 飛飞 凱凯 誌志 剛刚 靜静 艷艳 豔艳 瑩莹 穎颖 潔洁 鳳凤 鴻鸿
曉晓 彥彦 詩诗 雲云 嬌娇 鳴鸣 銘铭 鋒锋 濱滨 暉晖 歡欢 樂乐 興兴 義义 賢贤 貴贵 發发 財财 勝胜 權权 進进 達达 遠远 運运 順顺 聖圣 經经 綸纶
鶴鹤 鷹鹰 倫伦 勁劲 勳勋 協协 堅坚 壯壮 夢梦 嬋婵 學学 寬宽 將将 巖岩 帥帅 愛爱 慶庆 憲宪 懷怀 戰战 揚扬 晉晋 書书 會会 楓枫 標标 樹树 橋桥
歷历 漢汉 濟济 燁烨 燦灿 爾尔 獻献 瑋玮 環环 瓊琼 瑤瑶 碩硕 祿禄 禎祯 穩稳 競竞 紋纹 納纳 紳绅 細细 紹绍 結结 絲丝 維维 綠绿 綺绮 緒绪 繼继
續续 翹翘 聰聪 聲声 舉举 蓮莲 蔭荫 蕓芸 覺觉 詠咏 誠诚 謙谦 譽誉 貞贞 賓宾 贊赞 農农 過过 遙遥 鄉乡 錦锦 鈞钧 鋼钢 錚铮 銀银 鏡镜 開开 閣阁
雙双 電电 靈灵 韻韵 頌颂 頤颐 顯显 風风 騰腾 驊骅 驍骁 鵑鹃 齡龄 煒炜 韜韬 蘊蕴 際际 隱隐 霽霁 靄霭 響响 頂顶 頓顿 領领 願愿 養养 鬆松 鯉鲤
鴿鸽 鸞鸾 億亿 儀仪 優优 兒儿 瀟潇 灝灏 愷恺 楨桢 樺桦 滬沪 瀅滢 瑪玛 璣玑 琿珲 璽玺 畫画 禪禅 紗纱 絹绢 綱纲 綿绵 緣缘 縈萦 聯联 臨临 與与
萊莱 蒼苍 蓋盖 薈荟 藝艺 蘆芦 蟬蝉 襲袭 訓训 記记 詞词 詳详 語语 諭谕 識识 資资 贏赢 輕轻 載载 輔辅 遜逊 釗钊 鈴铃 銳锐 雋隽 靚靓 頎颀 顥颢
駿骏 騏骐 魚鱼 鮮鲜 鳥鸟 鶯莺 鷗鸥 齋斋 劍剑 勵励 匯汇 啟启 圓圆 園园 團团 堯尧 奮奋 奧奥 嫻娴 嬡嫒 實实 專专 尋寻 島岛 嶺岭 嶽岳 巒峦 師师
廈厦 廬庐 彌弥 從从 復复 徹彻 恆恒 悅悦 憶忆 暢畅 曄晔 樑梁 淵渊 滄沧 漣涟 潤润 澤泽 瀾澜 煥焕 燾焘 瓏珑 甌瓯 眾众 禕祎 簫箫 粵粤 絢绚 繡绣
羨羡 習习 肅肃 臺台 葦苇 薔蔷 蘋苹 誼谊 諾诺 謹谨 賜赐 賽赛 贇赟 躍跃 遼辽 邁迈 鈺钰 閩闽 頡颉 驥骥 瑯琅 璦瑷 鈦钛 鏈链 鑽钻 俠侠 倆俩 偵侦
傳传 傷伤 僑侨 價价 儉俭 兌兑 兩两 冊册 凈净 創创 勛勋 務务 動动 勢势 區区 卻却 厭厌 參参 變变 叢丛 員员 問问 啞哑 喚唤 囑嘱 圖图 場场 塊块
墳坟 壓压 壞坏 壩坝 處处 夠够 夾夹 奪夺 婁娄 媽妈 嬰婴 孌娈 寢寝 對对 導导 層层 屬属 岡冈 崗岗 嶼屿 幫帮 廳厅 廠厂 彈弹 總总 惡恶 慣惯 懇恳
戲戏 戶户 擁拥 擇择 擊击 擔担 據据 擴扩 擺摆 攝摄 斕斓 斷断 時时 晝昼 暈晕 曆历 條条 棟栋 極极 構构 槍枪 樣样 橫横 檢检 櫻樱 歲岁 殘残 氣气
決决 沒没 淚泪 淺浅 淨净 減减 渦涡 溝沟 滅灭 滯滞 漁渔 漲涨 潛潜 澀涩 濃浓 濕湿 瀏浏 灣湾 災灾 為为 烏乌 無无 煉炼 煙烟 熱热 燈灯 營营 爐炉
爭争 牆墙 獎奖 獨独 獲获 現现 瑣琐 產产 畝亩 異异 當当 療疗 盡尽 監监 盤盘 睜睁 矯矫 礦矿 確确 碼码 祕秘 稅税 稱称 穀谷 窮穷 竊窃 筆笔 築筑
簽签 籃篮 籌筹 糧粮 約约 級级 紛纷 組组 終终 統统 絕绝 綜综 緊紧 線线 編编 緩缓 縣县 縮缩 織织 繩绳 罰罚 罵骂 聽听 職职 腦脑 臉脸 臟脏 艦舰
艱艰 芻刍 莖茎 蔥葱 號号 蟲虫 術术 衝冲 補补 裝装 製制 複复 規规 視视 親亲 觀观 訂订 討讨 託托 設设 訪访 診诊 評评 試试 話话 該该 認认 說说
課课 調调 請请 論论 謀谋 謠谣 證证 譜谱 護护 讀读 讓让 豬猪 貓猫 負负 貨货 販贩 貪贪 貫贯 責责 貸贷 賊贼 賞赏 賠赔 賣卖 質质 購购 贈赠 趕赶
趨趋 跡迹 踐践 蹤踪 軟软 較较 輛辆 輪轮 輸输 轉转 辦办 辭辞 這这 週周 遊游 違违 遞递 選选 遺遗 還还 邏逻 郵邮 鄰邻 醫医 釋释 針针 釣钓 鈔钞
鉛铅 銅铜 銷销 鋪铺 錄录 錯错 錶表 鍋锅 鍵键 鎖锁 鎮镇 鏟铲 鑰钥 閃闪 閉闭 閑闲 間间 閱阅 闆板 闊阔 隊队 階阶 陰阴 險险 隻只 雖虽 雜杂 雞鸡
離离 難难 霧雾 靂雳 韌韧 頁页 須须 預预 頭头 頻频 題题 額额 顆颗 類类 飯饭 飲饮 飾饰 餅饼 館馆 饑饥 驗验 驚惊 體体 髮发 鬥斗 鬧闹 鬱郁 麵面
黴霉 點点 齒齿 龜龟 裏里 裡里 峯峰 羣群 衆众 綫线 啓启 爲为 僞伪
"""

#: Traditional -> simplified for the characters of :data:`_T2S_PAIRS`.
T2S: dict[str, str] = {tok[0]: tok[1] for tok in _T2S_PAIRS.split()}
_T2S_TABLE = str.maketrans(T2S)

#: Compound (two-character) surnames, checked before the one-character split.
_COMPOUND_TEXT = (
    "欧阳 司马 诸葛 上官 司徒 东方 夏侯 皇甫 尉迟 公孙 慕容 长孙 宇文 令狐 轩辕 端木 独孤 南宫 "
    "西门 百里 呼延 万俟 澹台 公冶 宗政 濮阳 太叔 申屠 钟离 闻人 赫连 东郭 公羊 司空 左丘 拓跋 "
    "仲孙 亓官 司寇 颛孙 巫马 公西 漆雕 乐正 壤驷 公良 夹谷 宰父 谷梁 段干 梁丘"
)
COMPOUND_SURNAMES: frozenset[str] = frozenset(_COMPOUND_TEXT.split())

# Surname readings that differ from a polyphonic character's everyday reading.
_SURNAME_READING: dict[str, str] = {
    "单": "shan", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "覃": "qin", "乐": "yue", "盖": "ge", "缪": "miao", "翟": "zhai", "曾": "zeng",
    "种": "chong", "都": "du", "员": "yun", "召": "shao", "折": "she", "能": "nai",
    "繁": "po", "重": "chong", "秘": "bi", "藏": "zang", "隗": "wei", "阚": "kan",
    "卜": "bu", "薄": "bo", "句": "gou", "吕": "lv", "乐正": "yue zheng",
    "尉迟": "yu chi", "万俟": "mo qi", "长孙": "zhang sun",
}  # fmt: skip

# Approximate shares (per cent) of the most frequent surnames in China.
_SURNAME_TOP = """
王7.1 李7.1 张6.8 刘5.4 陈4.6 杨3.2 黄2.2 赵2.0 吴1.7 周1.7 徐1.3 孙1.3 马1.2 朱1.1 胡1.0
郭.97 何.91 高.89 林.87 罗.80 郑.76 梁.70 谢.61 宋.56 唐.53 许.51 韩.46 冯.45 邓.44 曹.42
彭.41 曾.40 肖.39 田.37 董.36 袁.35 潘.34 于.33 蒋.32 蔡.31 余.30 杜.29 叶.28 程.27 苏.26
魏.25 吕.24 丁.24 任.23 沈.23 姚.22 卢.22 姜.21 崔.20 钟.20 谭.19 陆.19 汪.18 范.18 金.17
石.17 廖.16 贾.16 夏.16 韦.15 付.15 方.15 白.14 邹.14 孟.14 熊.13 秦.13 邱.13 江.13 尹.12
薛.12 闫.12 段.11 雷.11 侯.11 龙.11 史.10 陶.10 黎.10 贺.10 顾.09 毛.09 郝.09 龚.09 邵.09
万.08 钱.08 严.08 覃.08 武.08 戴.08 莫.07 孔.07 向.07 汤.07 常.07
"""
_COMPOUND_SHARE = {
    "欧阳": 0.08, "司马": 0.02, "司徒": 0.02, "诸葛": 0.01, "上官": 0.01, "东方": 0.005,
    "皇甫": 0.005, "夏侯": 0.003, "尉迟": 0.002, "公孙": 0.002, "慕容": 0.002, "令狐": 0.002,
}  # fmt: skip
# Further surnames in rough frequency order (shares extrapolated).
_SURNAME_TAIL = (
    "温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童"
    "凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪"
    "简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫"
    "寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘"
    "满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮"
    "都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利"
    "於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)

# Frequent given-name characters, most frequent first (for the Latin order decision).
_GIVEN_CHARS = (
    "英华玉秀文明兰金国春红丽芳军平建珍海云梅成林小志凤伟荣德生清霞永新燕敏杰宝庆光福俊东辉洪"
    "静娟亮强峰勇波斌莉婷艳萍桂秋琴娜刚涛鹏超磊洋宇浩鑫佳欣雪晓慧琳颖倩洁晶丹玲利力飞龙阳旭凯健"
    "帆宁鸣雨梓涵轩子思怡诗萱晨一天家嘉博泽睿瑞豪婉琪雅淑素兵元振忠宏祥胜武民良才贵发义喜仁友立"
    "安爱月美彩香娇茹蓉翠凡毅锋诚伦彬坤昊然逸铭昕瑶璐蕾露薇菲楠悦妍彤岩威卫善"
)

_PLACEHOLDER_GIVEN = re.compile(r"^某+[甲乙丙丁]?$")
_EMPTY_TEXT = "不详 未知 无名氏 佚名 无 暂无 不明 某某 unknown none null na n/a anonymous"
_EMPTY_WORDS = frozenset(_EMPTY_TEXT.split())
_BRACKETED = re.compile(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】|〔[^〕]*〕")
_LATIN_SPLIT = re.compile(r"[\s,;/_]+")
_SYLLABLE_SPLIT = re.compile(r"[-'.·]+")

_SYLLABLE_TEXT = """
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang
cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan
chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di dia
dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fo
fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai han
hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao jie
jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke ken keng kong kou ku kua kuai kuan
kuang kui kun kuo la lai lan lang lao le lei leng li lia lian liang liao lie lin ling liu lo long
lou lu luan lun luo lv lve ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo
mou mu na nai nan nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou nu nuan
nun nuo nv nve o ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu qi qia
qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou ru
rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei shen sheng
shi shou shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan
tang tao te teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng
wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin
ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao
zhe zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui
zun zuo
"""
#: Toneless pinyin syllables a Latin name is segmented into (``v`` stands for ü).
PINYIN_SYLLABLES: frozenset[str] = frozenset(_SYLLABLE_TEXT.split())
# Spellings of ü syllables seen in documents, mapped to pypinyin's ``v``.
_U_SPELLINGS = {"lue": "lve", "nue": "nve", "lyu": "lv", "nyu": "nv", "lu:": "lv", "nu:": "nv"}
_SEGMENT_UNITS = PINYIN_SYLLABLES | frozenset(_U_SPELLINGS)
_MAX_SYLLABLE = max(len(s) for s in _SEGMENT_UNITS)
_VOWELS = frozenset("aoe")


def _han_char(c: str) -> bool:
    o = ord(c)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x20000 <= o <= 0x3134F
        or 0xF900 <= o <= 0xFAFF
        or o == 0x3007  # 〇
    )


def fold_traditional(text: str) -> str:
    """``text`` with the traditional characters of :data:`T2S` replaced by simplified ones.

    O(len(text)).

    >>> fold_traditional("張偉 歐陽華")
    '张伟 欧阳华'
    """
    return text.translate(_T2S_TABLE)


def fold_syllable(syllable: str) -> str:
    """The homophone-folded form of one toneless syllable. O(1).

    Folds the confusions of southern and careless speech: retroflex initials
    to dental (zh->z, ch->c, sh->s), n- to l-, back-nasal finals to front
    (-ng -> -n) and ü to u (``lv`` -> ``lu``).

    >>> [fold_syllable(s) for s in ("zhang", "shi", "nan", "ling", "lv")]
    ['zan', 'si', 'lan', 'lin', 'lu']
    """
    s = syllable.replace("v", "u")
    if s[:2] in ("zh", "ch", "sh"):
        s = s[0] + s[2:]
    elif s.startswith("n") and len(s) > 1 and s != "ng":
        s = "l" + s[1:]
    if len(s) > 2 and s.endswith("ng"):
        s = s[:-1]
    return s


def pinyin_key(syllables: Sequence[str]) -> str:
    """The homophone-aware key of a name's syllables: folded syllables joined by spaces.

    >>> pinyin_key(("zhang", "wei")) == pinyin_key(("zhang", "wei")), pinyin_key(("wang", "fang"))
    (True, 'wan fan')
    """
    return " ".join(fold_syllable(s) for s in syllables)


def _surname_shares() -> dict[str, float]:
    shares: dict[str, float] = {}
    for tok in _SURNAME_TOP.split():
        shares[tok[0]] = float(tok[1:])
    last = min(shares.values())
    for rank, ch in enumerate(_SURNAME_TAIL):
        shares.setdefault(ch, last * 0.98 ** (rank + 1))
    for compound in COMPOUND_SURNAMES:
        shares.setdefault(compound, _COMPOUND_SHARE.get(compound, 0.001))
    return shares


_HAN_SHARE = _surname_shares()


def _surname_pinyin(surname: str) -> tuple[str, ...]:
    reading = _SURNAME_READING.get(surname)
    if reading is not None:
        return tuple(reading.split())
    return _han_pinyin(surname)[0]


def _pinyin_surname_shares() -> dict[str, float]:
    out: dict[str, float] = {}
    for han, share in _HAN_SHARE.items():
        key = "".join(_surname_pinyin(han))
        out[key] = out.get(key, 0.0) + share
    return out


#: Share (per cent) of Chinese people whose surname is written with this pinyin
#: (summed over homophone surnames: ``wei`` is 魏 + 韦 + 卫 + ...).
SURNAME_SHARE: dict[str, float] = {}
#: Approximate probability of a syllable in a given name (Zipf over :data:`_GIVEN_CHARS`).
GIVEN_SHARE: dict[str, float] = {}
_GIVEN_UNSEEN = 1e-4


def _given_shares() -> dict[str, float]:
    weights: dict[str, float] = {}
    for rank, syl in enumerate(lazy_pinyin(list(_GIVEN_CHARS))):
        weights[syl] = weights.get(syl, 0.0) + 1.0 / (rank + 10)
    total = sum(weights.values())
    return {syl: w / total for syl, w in weights.items()}


# --------------------------------------------------------------------------- pinyin


@lru_cache(maxsize=65536)
def split_pinyin(token: str) -> tuple[str, ...] | None:
    """Segment a lowercase letter run into toneless pinyin syllables, or ``None``.

    Among segmentations, the fewest syllables win, counting a vowel-initial
    syllable after the first as two (pinyin writes ``xi'an`` with an apostrophe
    precisely because ``xian`` reads as one syllable); ties go to the one whose
    first syllable is the more frequent surname. O(len(token) * 6) with memo.

    >>> split_pinyin("zhangwei"), split_pinyin("ouyangfeng"), split_pinyin("fangan")
    (('zhang', 'wei'), ('ou', 'yang', 'feng'), ('fan', 'gan'))
    >>> split_pinyin("john") is None
    True
    """
    n = len(token)
    if n == 0:
        return None
    # best[i]: (cost, -share of first, segmentation) of token[i:]
    best: list[tuple[float, float, tuple[str, ...]] | None] = [None] * (n + 1)
    best[n] = (0.0, 0.0, ())
    for i in range(n - 1, -1, -1):
        cand: tuple[float, float, tuple[str, ...]] | None = None
        for j in range(i + 1, min(n, i + _MAX_SYLLABLE) + 1):
            unit = token[i:j]
            rest = best[j]
            if rest is None or unit not in _SEGMENT_UNITS:
                continue
            syl = _U_SPELLINGS.get(unit, unit)
            cost = rest[0] + 1.0 + (1.0 if rest[2] and rest[2][0][0] in _VOWELS else 0.0)
            share = SURNAME_SHARE.get(syl, 0.0) if i == 0 else 0.0
            option = (cost, -share, (syl, *rest[2]))
            if cand is None or option[:2] < cand[:2]:
                cand = option
        best[i] = cand
    top = best[0]
    return None if top is None else top[2]


@lru_cache(maxsize=1 << 16)
def _han_pinyin(text: str) -> tuple[tuple[str, ...], bool]:
    """Toneless syllables of Han ``text`` and whether a character had no known reading."""
    if not text:
        return (), False
    readings = lazy_pinyin(text)
    if len(readings) != len(text):  # characters without a reading come back grouped
        readings = [lazy_pinyin(c)[0] for c in text]
    out: list[str] = []
    rare = False
    for c, r in zip(text, readings, strict=True):
        if r.isascii() and r.isalpha():
            out.append(r.lower())
        else:
            out.append(f"u{ord(c):x}")  # stable stand-in for an unknown reading
            rare = True
    return tuple(out), rare


# --------------------------------------------------------------------------- names


@dataclass(frozen=True, slots=True)
class NameParts:
    """A normalised name (see :func:`normalize_name`)."""

    raw: str
    han: str
    script: str  # "han", "latin", "mixed" or "empty"
    surname: str
    given: str
    surname_pinyin: tuple[str, ...]
    given_pinyin: tuple[str, ...]
    flags: frozenset[str]

    @property
    def pinyin(self) -> tuple[str, ...]:
        """Syllables in surname-given order."""
        return self.surname_pinyin + self.given_pinyin

    @property
    def pinyin_key(self) -> str:
        """Homophone-aware key of :attr:`pinyin` (see :func:`pinyin_key`)."""
        return pinyin_key(self.pinyin)

    @property
    def empty(self) -> bool:
        return not self.surname_pinyin and not self.given_pinyin


def _split_han(han: str) -> tuple[str, str]:
    if han[:2] in COMPOUND_SURNAMES:
        return han[:2], han[2:]
    return han[:1], han[1:]


def _surname_logp(syllables: Sequence[str]) -> float | None:
    """log P(surname) of a syllable group, ``None`` if it is no known surname."""
    share = SURNAME_SHARE.get("".join(syllables))
    return None if share is None else math.log(share / 100.0)


def _given_logp(syllables: Sequence[str]) -> float:
    return sum(math.log(GIVEN_SHARE.get(s, _GIVEN_UNSEEN)) for s in syllables)


# Priors of the written order and of the conventions that mark the surname.
_SURNAME_FIRST = math.log(0.8)  # Chinese order is the usual one in reports
_GIVEN_FIRST = math.log(0.2)
_CAPS_BONUS = math.log(4.0)  # passport style: ZHANG Wei
_COMMA_BONUS = math.log(20.0)  # "Zhang, Wei"


def _parse_latin(text: str, flags: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(surname syllables, given syllables) of a Latin-script name.

    Each candidate reading (surname first, or last) is scored by
    ``log P(surname) + log P(given syllables) + log P(order)`` from
    :data:`SURNAME_SHARE`, :data:`GIVEN_SHARE` and the order priors, plus a
    bonus for an upper-case or comma-marked surname; the best one wins.
    """
    comma_first = "," in text and text.index(",") > 0
    tokens = [t for t in _LATIN_SPLIT.split(text) if t]
    groups: list[tuple[str, ...]] = []
    caps: list[bool] = []
    for tok in tokens:
        syl: list[str] = []
        for part in _SYLLABLE_SPLIT.split(tok.lower()):
            letters = "".join(c for c in part if c.isalpha() or c == ":")
            if not letters:
                continue
            seg = split_pinyin(letters)
            if seg is None:
                flags.add("name_nonpinyin")
                seg = (letters.replace(":", ""),)
            syl.extend(seg)
        if syl:
            groups.append(tuple(syl))
            letters_only = [c for c in tok if c.isalpha()]
            caps.append(len(letters_only) > 1 and all(c.isupper() for c in letters_only))
    if not groups:
        return (), ()
    options: list[tuple[float, tuple[str, ...], tuple[str, ...]]] = []
    if len(groups) == 1:
        syl = groups[0]
        if len(syl) == 1:
            return syl, ()
        for k in (1, 2):
            if len(syl) <= k:
                continue
            head = _surname_logp(syl[:k])
            if head is not None:
                options.append((head + _given_logp(syl[k:]) + _SURNAME_FIRST, syl[:k], syl[k:]))
            tail = _surname_logp(syl[-k:])
            if tail is not None:
                options.append((tail + _given_logp(syl[:-k]) + _GIVEN_FIRST, syl[-k:], syl[:-k]))
        if not options:
            return syl[:1], syl[1:]
    else:
        all_caps = all(caps)
        for pos in (0, len(groups) - 1):
            head = _surname_logp(groups[pos])
            if head is None:
                continue
            given = tuple(s for q, g in enumerate(groups) if q != pos for s in g)
            score = head + _given_logp(given)
            score += _SURNAME_FIRST + _COMMA_BONUS * comma_first if pos == 0 else _GIVEN_FIRST
            if caps[pos] and not all_caps:
                score += _CAPS_BONUS
            options.append((score, groups[pos], given))
        if not options:
            return groups[0], tuple(s for g in groups[1:] for s in g)
    best = max(options, key=lambda o: o[0])
    return best[1], best[2]


def normalize_name(name: object) -> NameParts:
    """Normalise a written name; never raises. O(len(name)); repeated names come from a cache.

    >>> n = normalize_name("欧阳 建華")
    >>> n.han, n.surname, n.given, n.pinyin
    ('欧阳建华', '欧阳', '建华', ('ou', 'yang', 'jian', 'hua'))
    >>> normalize_name("Wei Zhang").pinyin
    ('zhang', 'wei')
    """
    raw = "" if name is None else name if isinstance(name, str) else str(name)
    return _normalize_name(raw)


@lru_cache(maxsize=1 << 18)
def _normalize_name(raw: str) -> NameParts:
    flags: set[str] = set()
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc"))
    stripped = _BRACKETED.sub(" ", text)
    if stripped != text:
        flags.add("name_annotated")
        text = stripped
    if any(c.isdigit() for c in text):
        flags.add("name_has_digits")
        text = "".join(c for c in text if not c.isdigit())
    han = fold_traditional("".join(c for c in text if _han_char(c)))
    latin = "".join(c for c in text if c.isascii() or not _han_char(c))
    latin = unicodedata.normalize("NFKD", latin)
    latin = "".join(c for c in latin if not unicodedata.combining(c) or c == "\u0308")
    latin = latin.replace("u\u0308", "v").replace("U\u0308", "V")
    has_latin = any(c.isalpha() for c in latin)
    compact = re.sub(r"[\s\W_]+", "", text).lower()
    if not compact or compact in _EMPTY_WORDS or han in _EMPTY_WORDS:
        flags.add("empty_name")
        return NameParts(raw, "", "empty", "", "", (), (), frozenset(flags))
    if han:
        script = "mixed" if has_latin else "han"
        if has_latin:
            flags.add("name_mixed_script")
        surname, given = _split_han(han)
        if _PLACEHOLDER_GIVEN.match(given):
            flags.add("name_placeholder")
            given = ""
        sp = _surname_pinyin(surname)
        gp, rare = _han_pinyin(given)
        if rare or (sp and not sp[0].isalpha()) or _han_pinyin(surname)[1]:
            flags.add("name_rare_char")
        return NameParts(raw, han, script, surname, given, sp, gp, frozenset(flags))
    if not has_latin:
        flags.add("empty_name")
        return NameParts(raw, "", "empty", "", "", (), (), frozenset(flags))
    sp, gp = _parse_latin(latin, flags)
    if not sp and not gp:
        flags.add("empty_name")
        return NameParts(raw, "", "empty", "", "", (), (), frozenset(flags))
    return NameParts(raw, "", "latin", "".join(sp), "".join(gp), sp, gp, frozenset(flags))


# --------------------------------------------------------------------------- persons

_MIN_YEAR = 1900
_MIN_SUSPECT_AGE = 10


@dataclass(frozen=True, slots=True)
class NormalizedPerson:
    """A person mention after :func:`normalize_person`.

    ``name_han`` is empty for a Latin-only name; ``surname``/``given`` are Han
    for a Han name and pinyin for a Latin one; ``pinyin`` is always
    surname-first. ``dob`` and ``gender`` are as written (validated);
    :attr:`match_dob` and :attr:`match_gender` fall back to what the ID says.
    """

    role: str
    name_raw: str
    name_han: str
    script: str
    surname: str
    given: str
    surname_pinyin: tuple[str, ...]
    given_pinyin: tuple[str, ...]
    pinyin_key: str
    id: IdInfo | None
    phone: str | None
    phone_digits: str | None
    dob: dt.date | None
    gender: str | None
    flags: frozenset[str]

    @property
    def pinyin(self) -> tuple[str, ...]:
        """Toneless syllables, surname first."""
        return self.surname_pinyin + self.given_pinyin

    @property
    def pinyin_str(self) -> str:
        """:attr:`pinyin` joined without separators (``zhangwei``)."""
        return "".join(self.pinyin)

    @property
    def swapped_key(self) -> str:
        """:attr:`pinyin_key` of the name read given-name first."""
        return pinyin_key(self.given_pinyin + self.surname_pinyin)

    @property
    def match_dob(self) -> dt.date | None:
        """The birth date to match on: as written unless absurd, else the ID's."""
        if self.dob is not None and "absurd_dob" not in self.flags:
            return self.dob
        if (
            self.id is not None
            and self.id.birth_date is not None
            and "absurd_dob" not in self.flags
        ):
            return self.id.birth_date
        return None

    @property
    def match_gender(self) -> str | None:
        """The gender to match on: as written, else the ID's."""
        if self.gender is not None:
            return self.gender
        return self.id.gender if self.id is not None else None


def _field(m: Any, name: str) -> Any:
    if isinstance(m, Mapping):
        return m.get(name)
    return getattr(m, name, None)


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")


def _parse_dob(value: Any, flags: set[str]) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
    flags.add("dob_unparseable")
    return None


_GENDERS = {"m": "M", "male": "M", "男": "M", "f": "F", "female": "F", "女": "F"}


def _parse_gender(value: Any, flags: set[str]) -> str | None:
    if value is None or value == "":
        return None
    g = _GENDERS.get(str(value).strip().lower()) if isinstance(value, str) else None
    if g is None:
        flags.add("gender_unparseable")
    return g


def _absurd(born: dt.date, today: dt.date, suspect: bool) -> bool:
    if born.year < _MIN_YEAR or born > today:
        return True
    if suspect:
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return age < _MIN_SUSPECT_AGE
    return False


def normalize_person(m: object, *, today: dt.date | None = None) -> NormalizedPerson:
    """Normalise a person mention; never raises on bad person data (it flags it).

    ``m`` is a :class:`ingest.models.PersonMention`, or anything with the same
    fields as attributes or keys (so unvalidated data - a 17-digit ID, a
    birth date as text - can be normalised and flagged too). ``today`` is the
    reference date for ``absurd_dob`` (default: the local date). O(len(name)).

    >>> p = normalize_person({"role": "suspect", "name": "李娜", "id_number": "33010219900307123",
    ...                       "dob": "2031-01-01"}, today=dt.date(2026, 3, 1))
    >>> sorted(p.flags)
    ['absurd_dob', 'id_malformed']
    """
    today = today or dt.date.today()
    flags: set[str] = set()
    role = str(_field(m, "role") or "")
    name = normalize_name(_field(m, "name"))
    flags |= name.flags
    info = parse_resident_id(_field(m, "id_number"))
    if info is not None:
        if info.malformed:
            flags.add("id_malformed")
        elif info.partial:
            flags.add("id_partial")
        elif info.check_ok is False:
            flags.add("id_bad_check")
        if info.complete and info.birth_date is None:
            flags.add("id_bad_date")
        if info.legacy15:
            flags.add("id_legacy15")
    phone_info = parse_phone(_field(m, "phone"))
    if phone_info is not None and not phone_info.ok:
        flags.add("phone_unparseable")
    dob = _parse_dob(_field(m, "dob"), flags)
    gender = _parse_gender(_field(m, "gender"), flags)
    suspect = role == "suspect"
    if dob is not None and _absurd(dob, today, suspect):
        flags.add("absurd_dob")
    if info is not None and info.birth_date is not None:
        if _absurd(info.birth_date, today, suspect):
            flags.add("absurd_dob")
        if dob is not None and dob != info.birth_date:
            flags.add("id_dob_mismatch")
    if (
        info is not None
        and info.gender is not None
        and gender is not None
        and gender != info.gender
    ):
        flags.add("id_gender_mismatch")
    return NormalizedPerson(
        role=role,
        name_raw=name.raw,
        name_han=name.han,
        script=name.script,
        surname=name.surname,
        given=name.given,
        surname_pinyin=name.surname_pinyin,
        given_pinyin=name.given_pinyin,
        pinyin_key=name.pinyin_key,
        id=info,
        phone=phone_info.number if phone_info is not None else None,
        phone_digits=phone_info.digits if phone_info is not None else None,
        dob=dob,
        gender=gender,
        flags=frozenset(flags),
    )


SURNAME_SHARE.update(_pinyin_surname_shares())
GIVEN_SHARE.update(_given_shares())
