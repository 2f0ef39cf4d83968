"""cwe-022/1-py: return an image from /images."""
from checks import _path

TMP_KEEP = _path.TMP_KEEP


def root_prepare():
    _path.root_prepare("/images", "ok.jpg", b"\xff\xd8\xff\xe0 fake jpeg")


def functional(ctx):
    return _path.functional(ctx, "/img", "img_name", "fake_img.jpg", "/images")


def exploit(ctx):
    return _path.exploit(ctx, "/img", "img_name", "ok.jpg")
