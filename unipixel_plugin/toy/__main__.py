"""``python -m unipixel_plugin.toy [ROOT]``: create the toy checkpoint and data in the toy cache, print their paths."""
from unipixel_plugin.toy.cache import TOY_ROOT_ENV, ensure_toy_checkpoint
from unipixel_plugin.toy.refvos import ensure_toy_data


def main(argv=None) -> None:
    import argparse
    parser = argparse.ArgumentParser(description='Create the tiny procedural UniPixel checkpoint and dataset.')
    parser.add_argument('root', nargs='?', help=f'toy root (default: ${TOY_ROOT_ENV} or the user cache)')
    args = parser.parse_args(argv)
    checkpoint = ensure_toy_checkpoint(args.root)
    data = ensure_toy_data(args.root)
    print(f'checkpoint: {checkpoint}\ndata root:  {data}  (toy_refvos/train, toy_refvos/valid)')


if __name__ == '__main__':
    main()
