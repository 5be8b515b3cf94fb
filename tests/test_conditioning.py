import pytest
import torch

from hrgan.conditioning import build_generator_input, input_channels, instance_edges, one_hot_labels


def test_one_hot_with_ignore_value():
    label = torch.tensor([[[0, 2], [1, 255]]])
    expected = torch.tensor(
        [[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]]]]
    )
    torch.testing.assert_close(one_hot_labels(label, 3, ignore_index=255), expected)


def test_one_hot_accepts_channel_dim_and_sets_dtype():
    label = torch.randint(0, 4, (2, 1, 5, 6))
    out = one_hot_labels(label, 4, dtype=torch.bfloat16)
    assert out.shape == (2, 4, 5, 6) and out.dtype == torch.bfloat16
    assert out.float().sum(1).eq(1).all()
    assert out.argmax(1).eq(label[:, 0]).all()


def test_out_of_range_labels_are_named():
    label = torch.tensor([[[0, 36], [40, 255]]])
    with pytest.raises(ValueError, match=r"outside \[0, 35\): 36, 40, 255"):
        one_hot_labels(label, 35)
    with pytest.raises(ValueError, match=r"outside \[0, 35\): 36, 40;"):
        one_hot_labels(label, 35, ignore_index=255)
    with pytest.raises(ValueError, match=r": -1"):
        one_hot_labels(torch.tensor([[[-1]]]), 3)


def test_float_or_misshaped_label_maps_are_rejected():
    with pytest.raises(ValueError, match="integer ids"):
        one_hot_labels(torch.zeros(1, 4, 4), 3)
    with pytest.raises(ValueError, match=r"\[B, H, W\]"):
        one_hot_labels(torch.zeros(4, 4, dtype=torch.long), 3)


def test_instance_edges_four_neighbourhood():
    instance = torch.zeros(1, 5, 5, dtype=torch.int32)
    instance[0, 2, 2] = 7
    expected = torch.zeros(1, 1, 5, 5)
    for y, x in [(2, 2), (1, 2), (3, 2), (2, 1), (2, 3)]:  # the pixel and its 4 neighbours; not diagonals
        expected[0, 0, y, x] = 1
    torch.testing.assert_close(instance_edges(instance), expected)


def test_touching_instances_of_one_class_get_a_boundary():
    instance = torch.tensor([[[26001, 26001, 26002, 26002]]])
    torch.testing.assert_close(instance_edges(instance), torch.tensor([[[[0.0, 1.0, 1.0, 0.0]]]]))


def test_generator_input_concatenates_labels_edges_features():
    label = torch.randint(0, 5, (2, 8, 16))
    instance = torch.randint(0, 3, (2, 8, 16))
    features = torch.randn(2, 3, 8, 16)
    x = build_generator_input(label, label_nc=5, instance=instance, features=features)
    assert x.shape[1] == input_channels(5, use_instance_edges=True, feat_num=3) == 9
    torch.testing.assert_close(x[:, 5:6], instance_edges(instance))
    torch.testing.assert_close(x[:, 6:], features)
    assert build_generator_input(label, label_nc=5).shape[1] == input_channels(5, use_instance_edges=False)


def test_generator_input_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="instance map size"):
        build_generator_input(torch.zeros(1, 8, 8, dtype=torch.long), label_nc=2, instance=torch.zeros(1, 8, 4, dtype=torch.long))
